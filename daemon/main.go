package daemon

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"

	"github.com/softbooq/xerosync/cdc"
	"github.com/softbooq/xerosync/config"
	"github.com/softbooq/xerosync/internal/simclock"
)

// Exit codes, as documented in the operator interface (SPEC §4).
const (
	ExitOK      = 0
	ExitFailure = 1
	ExitUsage   = 2
)

// MainParams are the inputs of one invocation of the xerosync command. Main fills the first
// five from the process; tests set the hooks as well.
type MainParams struct {
	// Args are the arguments after the program name.
	Args []string
	// Env is the process environment by name (see config.EnvMap). Nothing in the daemon
	// reads the real environment: NOTIFY_SOCKET, WATCHDOG_USEC, JOURNAL_STREAM and
	// CREDENTIALS_DIRECTORY come from here too.
	Env map[string]string
	// Stdin is where connect asks which organisation to link, when it is a terminal; nil
	// means no input.
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer

	// OnListen, if set, is called by `run` with the HTTP server's address once it listens
	// (useful with http.addr port 0).
	OnListen func(addr net.Addr)
}

// Main runs xerosync with args (without the program name) and returns the process's exit
// code. It returns when the command is done or, for `run`, when ctx ends.
func Main(ctx context.Context, args []string, env map[string]string, stdout, stderr io.Writer) int {
	return MainWith(ctx, MainParams{Args: args, Env: env, Stdout: stdout, Stderr: stderr})
}

// MainWith is Main with every input spelled out.
func MainWith(ctx context.Context, p MainParams) int {
	if p.Env == nil {
		p.Env = map[string]string{}
	}
	if p.Stdout == nil {
		p.Stdout = io.Discard
	}
	if p.Stderr == nil {
		p.Stderr = io.Discard
	}
	err := dispatch(ctx, p)
	return report(p.Stderr, err)
}

// usageError is a mistake in the command line: exit code 2, with a pointer to --help.
type usageError struct {
	msg  string
	help string // the command whose --help to suggest; "" for the global one
}

func (e *usageError) Error() string { return e.msg }

func usagef(cmd, format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...), help: cmd}
}

// report prints err for an operator and maps it to an exit code. It is the only place that
// decides exit codes.
func report(stderr io.Writer, err error) int {
	if err == nil {
		return ExitOK
	}
	var (
		usage   *usageError
		cfgErrs *config.Errors
		setup   *cdc.SetupError
	)
	switch {
	case errors.As(err, &usage):
		fmt.Fprintf(stderr, "xerosync: %s\n", usage.msg)
		if usage.help == "" {
			fmt.Fprintln(stderr, "run 'xerosync --help' for the commands")
		} else {
			fmt.Fprintf(stderr, "run 'xerosync %s --help' for its flags\n", usage.help)
		}
		return ExitUsage
	case errors.As(err, &cfgErrs):
		// One line per problem, each naming its key (config.Error's own format).
		for _, e := range *cfgErrs {
			fmt.Fprintf(stderr, "xerosync: config: %s\n", e.Error())
		}
		fmt.Fprintf(stderr, "fix the settings above in the config file (--config, default %s) or the XEROSYNC_* environment variables\n", config.DefaultPath)
		return ExitUsage
	case errors.As(err, &setup):
		fmt.Fprintf(stderr, "xerosync: %s\n", strings.TrimSpace(err.Error()))
		fmt.Fprintln(stderr, "this needs an administrator: fix it, then start xerosync again")
		return ExitFailure
	default:
		fmt.Fprintf(stderr, "xerosync: %s\n", strings.TrimSpace(err.Error()))
		return ExitFailure
	}
}

// command is one subcommand of the operator interface.
type command struct {
	name    string
	args    string // synopsis of the flags, for usage lines
	summary string
	// flags registers the command's flags and returns the function that runs it once they
	// are parsed; it is called with the global state (config path) already known.
	flags func(fs *flag.FlagSet, inv *invocation) func(ctx context.Context) error
	// positional is how many arguments may follow the flags (completion's shell); the run
	// function reads them from fs.Args().
	positional int
}

// invocation is what every command may use: the parsed global flags and Main's parameters.
type invocation struct {
	p            MainParams
	configPath   string
	configForced bool
	showVersion  bool
	clock        simclock.Clock // the wall, unless a test run set simclock.Env (setup)
}

// globalFlags registers the flags every command accepts, before or after its name:
// `xerosync --config F run` and `xerosync run --config F` are the same, because operators
// (and unit files) write both.
func (inv *invocation) globalFlags(fs *flag.FlagSet) {
	fs.Func("config", "the TOML config `FILE`", func(path string) error {
		if path == "" {
			return errors.New("--config needs a file name")
		}
		inv.configPath, inv.configForced = path, true
		return nil
	})
	fs.BoolVar(&inv.showVersion, "version", false, "print the version, commit and Go version")
}

// isGlobalFlag tells the flags globalFlags registers, which a command's --help lists apart.
func isGlobalFlag(name string) bool { return name == "config" || name == "version" }

// commands lists the operator interface in the order --help shows it. A function, not a
// package variable: no globals.
func commands() []command {
	return []command{
		{name: "run", summary: "run the daemon (what systemd starts)", flags: runFlags},
		{name: "connect", args: "--tenant ID [--org NAME_OR_XERO_TENANT_ID]", summary: "link a tenant to a Xero organisation (OAuth 2.0 with PKCE)", flags: connectFlags},
		{name: "disconnect", args: "--tenant ID", summary: "revoke a tenant's Xero tokens and stop pushing for it", flags: disconnectFlags},
		{name: "backfill", args: "--tenant ID [--since DATE] [--force]", summary: "queue a tenant's issued invoices (with contacts and payments) since DATE", flags: backfillFlags},
		{name: "status", args: "[--tenant ID] [--json] [--watch [--interval 2s]]", summary: "show each tenant's connection, queue and failures, and the replication slot", flags: statusFlags},
		{name: "retry", args: "--id N | --tenant ID --code CODE", summary: "retry outbox rows (the same as setting retry_requested in SQL)", flags: retryFlags},
		{name: "check", args: "--tenant ID", summary: "pre-flight: mapped account codes, tax types, currencies and lock dates in Xero", flags: checkFlags},
		{name: "migrate", summary: "apply xerosync's own schema (run does it too)", flags: migrateFlags},
		{name: "resync", args: "[--force]", summary: "after the replication slot was lost: a new slot, and every change it missed queued once", flags: resyncFlags},
		{name: "rotate-key", args: "--new FILE", summary: "re-seal every stored Xero token under a new token key, in one transaction", flags: rotateKeyFlags},
		{name: "version", summary: "print the version, commit and Go version", flags: versionFlags},
		{name: "completion", args: "bash|zsh|fish", summary: "print a shell completion script", flags: completionFlags, positional: 1},
	}
}

func globalUsage(w io.Writer) {
	fmt.Fprintf(w, `usage: xerosync [--config FILE] COMMAND [flags]

xerosync keeps each Softbooq tenant's Xero organisation in step with the Softbooq database.

commands:
`)
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-11s %s\n", c.name, c.summary)
	}
	fmt.Fprintf(w, `
global flags (before or after the command):
  --config FILE  the TOML config file (default %s, used when present);
                 XEROSYNC_SECTION_KEY environment variables override its keys
  --version      print the version, commit and Go version

run 'xerosync COMMAND --help' for a command's flags
`, config.DefaultPath)
}

// dispatch parses the global flags, finds the command, parses its flags and runs it.
func dispatch(ctx context.Context, p MainParams) error {
	inv := &invocation{p: p}
	global := flag.NewFlagSet("xerosync", flag.ContinueOnError)
	global.SetOutput(io.Discard) // we print usage ourselves, to the right stream
	inv.globalFlags(global)
	if err := global.Parse(p.Args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			globalUsage(p.Stdout)
			return nil
		}
		return usagef("", "%s", flagError(err, global))
	}
	if inv.showVersion {
		fmt.Fprint(p.Stdout, currentVersion())
		return nil
	}
	rest := global.Args()
	if len(rest) == 0 {
		globalUsage(p.Stderr)
		return &usageError{msg: "no command given"}
	}
	if rest[0] == "help" {
		if len(rest) > 1 {
			rest = []string{rest[1], "--help"}
		} else {
			globalUsage(p.Stdout)
			return nil
		}
	}
	name := rest[0]
	cmd := findCommand(name)
	if cmd == nil {
		names := []string{"help"}
		for _, c := range commands() {
			names = append(names, c.name)
		}
		if near := nearest(name, names); near != "" {
			return usagef("", "unknown command %q; did you mean %q?", name, near)
		}
		return usagef("", "unknown command %q", name)
	}
	fs := flag.NewFlagSet("xerosync "+name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	run := cmd.flags(fs, inv)
	inv.globalFlags(fs)
	fs.Usage = func() {}
	if err := fs.Parse(rest[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			commandUsage(p.Stdout, cmd, fs)
			return nil
		}
		return usagef(name, "%s: %s", name, flagError(err, fs))
	}
	if inv.showVersion {
		fmt.Fprint(p.Stdout, currentVersion())
		return nil
	}
	if fs.NArg() > cmd.positional {
		return usagef(name, "%s: unexpected argument %q", name, fs.Arg(cmd.positional))
	}
	return run(ctx)
}

// findCommand returns the command called name, or nil.
func findCommand(name string) *command {
	for _, c := range commands() {
		if c.name == name {
			return &c
		}
	}
	return nil
}

// flagError is the flag package's parse error, with the nearest defined flag suggested for
// one it does not know.
func flagError(err error, fs *flag.FlagSet) string {
	const unknown = "flag provided but not defined: -"
	msg := err.Error()
	bad, ok := strings.CutPrefix(msg, unknown)
	if !ok {
		return msg
	}
	var names []string
	fs.VisitAll(func(f *flag.Flag) { names = append(names, f.Name) })
	if near := nearest(bad, names); near != "" {
		return fmt.Sprintf("%s; did you mean --%s?", msg, near)
	}
	return msg
}

func commandUsage(w io.Writer, c *command, fs *flag.FlagSet) {
	fmt.Fprintf(w, "usage: xerosync [--config FILE] %s", c.name)
	if c.args != "" {
		fmt.Fprintf(w, " %s", c.args)
	}
	fmt.Fprintf(w, "\n\n%s\n", c.summary)
	// Printed by hand rather than with PrintDefaults, which spells flags with one dash
	// while everything else we print (and SPEC §4) uses two.
	first := true
	fs.VisitAll(func(f *flag.Flag) {
		if isGlobalFlag(f.Name) {
			return
		}
		if first {
			fmt.Fprintln(w, "\nflags:")
			first = false
		}
		name, usage := flag.UnquoteUsage(f)
		if name != "" {
			name = " " + name
		}
		fmt.Fprintf(w, "  --%s%s\n        %s", f.Name, name, usage)
		if f.DefValue != "" && f.DefValue != "0" && f.DefValue != "false" {
			fmt.Fprintf(w, " (default %s)", f.DefValue)
		}
		fmt.Fprintln(w)
	})
	fmt.Fprintln(w, "\nglobal flags, here or before the command: --config FILE, --version")
}

// loadConfig loads the configuration the way every command does.
func (inv *invocation) loadConfig() (*config.Config, error) {
	return config.Load(config.LoadParams{
		Path:         inv.configPath,
		PathExplicit: inv.configForced,
		Env:          inv.p.Env,
	})
}

// setup loads the configuration and builds the logger: what every command that does work
// needs first. A test run's clock (testClock) is read here too, so that every command of
// the run shares it.
func (inv *invocation) setup() (*config.Config, *slog.Logger, error) {
	cfg, err := inv.loadConfig()
	if err != nil {
		return nil, nil, err
	}
	if inv.clock, err = testClock(cfg, inv.p.Env); err != nil {
		return nil, nil, err
	}
	log := newLogger(inv.p.Stderr, inv.p.Env, cfg.Log)
	if inv.clock.Scale != 0 {
		log.Warn("test clock: Xero's time runs faster than the wall (the simulator only)", "clock", inv.clock.String())
	}
	return cfg, log, nil
}
