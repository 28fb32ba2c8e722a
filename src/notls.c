/*
 * No TLS set-up in git-gate's programs.
 *
 * git_libgit2_init() initialises libgit2's TLS backend, and with mbedTLS
 * (Debian's libgit2 1.5) that parses every CA certificate of the system
 * bundle: about 4 ms of each hook run, for connections git-gate never
 * makes (it reads the repository on disk; remotes are git's job).  libgit2
 * has no switch for it, so each program defines the one function that
 * does the parsing, and the dynamic linker binds libgit2's call to this
 * definition ahead of libmbedx509's (an executable's symbols come first).
 * With another TLS backend nothing refers to it and it stays unused.
 *
 * Linked into the programs only, never into a library: a libgit2 that
 * made a TLS connection in this process would have no trust anchors and
 * fail, which is the safe way round.
 */
#include "config.h"

#include "banned.h"

int mbedtls_x509_crt_parse_file(void *chain, const char *path);

int mbedtls_x509_crt_parse_file(void *chain, const char *path)
{
	(void)chain;
	(void)path;
	return 0;
}
