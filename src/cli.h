#ifndef GATE_CLI_H
#define GATE_CLI_H

/*
 * The git-gate command's verbs, one file each (cmd-*.c).  Each takes the
 * arguments after the verb and returns the exit status: 0 accepted/ok,
 * 1 rejected by policy (or invalid, for validate), 2 usage or config
 * error, 3 internal error.
 */

int cmd_install(int argc, char **argv);
int cmd_uninstall(int argc, char **argv);
int cmd_validate(int argc, char **argv);
int cmd_explain(int argc, char **argv);
int cmd_check(int argc, char **argv);
int cmd_replay(int argc, char **argv);
int cmd_queue(int argc, char **argv);
int cmd_status(int argc, char **argv);

/* Print `usage` to stdout (for --help) or stderr (misuse). */
int cli_usage(const char *usage, int misuse);
/* Whether arg is -h/--help. */
int cli_is_help(const char *arg);
/*
 * An option with a value, as "--name VALUE" or "--name=VALUE", at
 * argv[*i]: its value (and *i moved past it), or NULL when argv[*i] is
 * not that option.
 */
const char *cli_option(int argc, char **argv, int *i, const char *name);
/* A policy's problems, one a line on stderr, neutralised (they quote policy text). */
struct gate_diag;
void cli_print_diag(const struct gate_diag *diag);
/* Where the hook programs live (GIT_GATE_LIBEXECDIR overrides, for tests). */
const char *cli_libexecdir(void);

#endif
