#include "config.h"
#include "sandbox.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "banned.h"

const char gate_sandbox_needs[] =
	"bubblewrap installed (apt-get install bubblewrap, dnf install bubblewrap) and unprivileged user "
	"namespaces allowed (sysctl user.max_user_namespaces > 0, kernel.unprivileged_userns_clone = 1 where "
	"that exists; on Ubuntu 24.04 and later kernel.apparmor_restrict_unprivileged_userns = 0 or an "
	"AppArmor profile that lets bwrap use them)";

/* Of /etc, what compilers, interpreters and test suites read, and nothing that is anybody's secret. */
static const char *const etc_allowed[] = {
	"/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/ld.so.conf.d", "/etc/localtime", "/etc/timezone",
	"/etc/alternatives", "/etc/nsswitch.conf", "/etc/hosts", "/etc/host.conf", "/etc/services",
	"/etc/protocols", "/etc/mime.types", "/etc/ssl/certs", "/etc/ca-certificates", "/etc/pki/tls/certs",
	"/etc/pki/ca-trust/extracted", "/etc/os-release", "/etc/debian_version", "/etc/lsb-release",
	"/etc/locale.alias", "/etc/locale.conf", "/etc/gai.conf", "/etc/inputrc", NULL
};

static const char passwd_data[] = "root:x:0:0:root:/root:/usr/sbin/nologin\n"
				  "nobody:x:65534:65534:nobody:/tmp:/usr/sbin/nologin\n";
static const char group_data[] = "root:x:0:\nnogroup:x:65534:\n";

/*
 * Unpack, report on descriptor 3, run.  $1 the command line, $2
 * max_processes (0: none).
 */
static const char script[] =
	"tar -x -m -p -f - -C " GATE_SANDBOX_WORKSPACE " || "
	"{ echo 'git-gate: tar could not unpack the tree in the sandbox' >&2; exit 125; }\n"
	"printf 'unpacked\\n' >&3 || exit 125\n"
	"exec 3>&-\n"
	"exec </dev/null\n"
	"cd " GATE_SANDBOX_WORKSPACE " || exit 125\n"
	"if test \"$2\" != 0; then exec prlimit --nproc=\"$2\" -- /bin/sh -c \"$1\"; fi\n"
	"exec /bin/sh -c \"$1\"\n";

static char *find_bwrap(void)
{
	const char *over = getenv("GIT_GATE_BWRAP");
	const char *path = getenv("PATH"), *p;

	if (over && *over)
		return access(over, X_OK) == 0 ? gate_xstrdup(over) : NULL;
	if (!path || !*path)
		path = "/usr/local/bin:/usr/bin:/bin";
	for (p = path; *p;) {
		const char *colon = strchr(p, ':');
		size_t n = colon ? (size_t)(colon - p) : strlen(p);
		if (n) {
			char *cand = gate_xstrfmt("%.*s/bwrap", (int)n, p);
			if (access(cand, X_OK) == 0)
				return cand;
			free(cand);
		}
		if (!colon)
			break;
		p = colon + 1;
	}
	return NULL;
}

/* Whether `name` is a program the sandbox can see (it sees /usr, /bin and /sbin). */
static int sandbox_has(const char *name)
{
	static const char *const dirs[] = { "/usr/local/bin", "/usr/bin", "/bin", "/usr/sbin", "/sbin", NULL };
	size_t i;

	for (i = 0; dirs[i]; i++) {
		char *p = gate_xstrfmt("%s/%s", dirs[i], name);
		int ok = access(p, X_OK) == 0;
		free(p);
		if (ok)
			return 1;
	}
	return 0;
}

/* A pipe holding `data`, read end returned (for --ro-bind-data). */
static int data_pipe(const char *data, struct gate_buf *err)
{
	int fds[2];

	if (pipe2(fds, O_CLOEXEC) < 0)
		return gate_error(err, "cannot create a pipe: %s", strerror(errno));
	if (gate_write_all(fds[1], data, strlen(data)) < 0) {
		gate_error(err, "cannot write a pipe: %s", strerror(errno));
		close(fds[0]);
		close(fds[1]);
		return -1;
	}
	close(fds[1]);
	/* above 3, which the child's descriptor 3 would overwrite */
	if (fds[0] <= 3) {
		int high = fcntl(fds[0], F_DUPFD_CLOEXEC, 10);
		close(fds[0]);
		if (high < 0)
			return gate_error(err, "cannot move a descriptor: %s", strerror(errno));
		fds[0] = high;
	}
	return fds[0];
}

int gate_sandbox_prepare(struct gate_sandbox *sb, const struct gate_sandbox_opts *o, struct gate_buf *err)
{
	static const char *const sysdirs[] = { "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", NULL };
	struct gate_strvec *a = &sb->argv;
	char num[32];
	size_t i;

	sb->bwrap = find_bwrap();
	if (!sb->bwrap)
		return gate_error(err,
				  "sandbox = \"bwrap\" needs bubblewrap, which is not installed%s; it needs %s (or, "
				  "unsafe, sandbox = \"none\")",
				  getenv("GIT_GATE_BWRAP") && *getenv("GIT_GATE_BWRAP") ? " at GIT_GATE_BWRAP"
											   : " (no 'bwrap' in PATH)",
				  gate_sandbox_needs);
	if (!sandbox_has("tar") || !sandbox_has("prlimit"))
		return gate_error(err, "sandbox = \"bwrap\" needs tar and prlimit (util-linux) in /usr/bin or /bin, "
				       "to unpack the tree and limit processes inside the sandbox");
	if ((sb->data_fds[0] = data_pipe(passwd_data, err)) < 0 || (sb->data_fds[1] = data_pipe(group_data, err)) < 0)
		return -1;
	sb->keep_fds[0] = sb->data_fds[0];
	sb->keep_fds[1] = sb->data_fds[1];
	sb->keep_fds[2] = -1;
	sb->fd3 = o->ready_fd;
	if (geteuid() == 0) {
		sb->set_ids = 1;
		sb->uid = GATE_SANDBOX_UID;
		sb->gid = GATE_SANDBOX_UID;
	}

	gate_strvec_pushv(a, (const char *const[]){ sb->bwrap, "--new-session", "--die-with-parent", "--unshare-all",
						    "--unshare-user", "--disable-userns", "--cap-drop", "ALL", "--uid",
						    "65534", "--gid", "65534", "--hostname", "git-gate-sandbox",
						    "--ro-bind", "/usr", "/usr", NULL });
	for (i = 0; sysdirs[i]; i++) {
		struct stat st;
		char target[4096];
		ssize_t n;
		if (lstat(sysdirs[i], &st) < 0)
			continue;
		if (S_ISLNK(st.st_mode) && (n = readlink(sysdirs[i], target, sizeof(target) - 1)) > 0) {
			target[n] = '\0';
			gate_strvec_pushv(a, (const char *const[]){ "--symlink", target, sysdirs[i], NULL });
		} else if (S_ISDIR(st.st_mode)) {
			gate_strvec_pushv(a, (const char *const[]){ "--ro-bind", sysdirs[i], sysdirs[i], NULL });
		}
	}
	for (i = 0; etc_allowed[i]; i++)
		gate_strvec_pushv(a, (const char *const[]){ "--ro-bind-try", etc_allowed[i], etc_allowed[i], NULL });
	snprintf(num, sizeof(num), "%d", sb->data_fds[0]);
	gate_strvec_pushv(a, (const char *const[]){ "--ro-bind-data", num, "/etc/passwd", NULL });
	snprintf(num, sizeof(num), "%d", sb->data_fds[1]);
	gate_strvec_pushv(a, (const char *const[]){ "--ro-bind-data", num, "/etc/group", NULL });
	gate_strvec_pushv(a, (const char *const[]){ "--symlink", "../proc/self/mounts", "/etc/mtab", "--proc",
						    "/proc", "--dev", "/dev", NULL });
	/* /dev is a tmpfs of bwrap's: read-only, with a small bounded /dev/shm of its own */
	snprintf(num, sizeof(num), "%llu", (unsigned long long)(o->disk < GATE_SANDBOX_SHM ? o->disk : GATE_SANDBOX_SHM));
	gate_strvec_pushv(a, (const char *const[]){ "--perms", "1777", "--size", num, "--tmpfs", "/dev/shm",
						    "--remount-ro", "/dev", NULL });
	snprintf(num, sizeof(num), "%llu", (unsigned long long)o->disk);
	/* the root is a tmpfs too: read-only once everything is in place, so /tmp is the only place to write */
	gate_strvec_pushv(a, (const char *const[]){ "--perms", "1777", "--size", num, "--tmpfs", "/tmp", "--dir",
						    GATE_SANDBOX_WORKSPACE, "--remount-ro", "/", "--chdir", "/tmp",
						    "/bin/sh", "-c", script, "git-gate", o->run, NULL });
	gate_strvec_pushf(a, "%llu", (unsigned long long)o->nproc);
	return 0;
}

void gate_sandbox_release(struct gate_sandbox *sb)
{
	size_t i;

	for (i = 0; i < 2; i++)
		if (sb->data_fds[i] >= 0)
			close(sb->data_fds[i]);
	gate_strvec_clear(&sb->argv);
	free(sb->bwrap);
	sb->bwrap = NULL;
}

void gate_sandbox_start_error(struct gate_buf *err, const struct gate_sandbox *sb, const char *output)
{
	size_t n = output ? strcspn(output, "\n") : 0;

	while (n && (output[n - 1] == ' ' || output[n - 1] == '\r'))
		n--;
	gate_error(err,
		   "sandbox = \"bwrap\": bubblewrap ('%s') could not start the sandbox on this server (%.*s); it needs "
		   "%s (or, unsafe, sandbox = \"none\")",
		   sb->bwrap ? sb->bwrap : "bwrap", n ? (int)(n > 300 ? 300 : n) : 14, n ? output : "no message",
		   gate_sandbox_needs);
}
