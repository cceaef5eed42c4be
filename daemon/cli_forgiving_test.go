package daemon_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/softbooq/xerosync/daemon"
)

// mainArgs runs the command line exactly as given (runCmd adds a --config of its own).
func mainArgs(t *testing.T, env map[string]string, args ...string) result {
	t.Helper()
	stdout, stderr := &tlog{t: t}, &tlog{t: t, name: "stderr"}
	code := daemon.Main(context.Background(), args, env, stdout, stderr)
	return result{code: code, stdout: stdout.String(), stderr: stderr.String()}
}

// The global flags work before and after the command: a config file with a bad key is read,
// and named, whichever side --config is on; --version too.
func TestCLIGlobalFlagsEitherSide(t *testing.T) {
	t.Parallel()
	cfg := filepath.Join(t.TempDir(), "xerosync.toml")
	if err := os.WriteFile(cfg, []byte("[http]\naddr = \"nowhere\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"XEROSYNC_DATABASE_URL": "postgres://127.0.0.1:1/none"}
	for _, args := range [][]string{
		{"--config", cfg, "run"},
		{"run", "--config", cfg},
		{"run", "--config=" + cfg},
		{"status", "--tenant", tenantA, "--config", cfg, "--json"},
		{"-config", cfg, "migrate"},
	} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			t.Parallel()
			r := mainArgs(t, env, args...)
			if r.code != daemon.ExitUsage || !strings.Contains(r.stderr, "config: http.addr") {
				t.Errorf("exit %d, want 2 naming http.addr from %s; stderr:\n%s", r.code, cfg, r.stderr)
			}
		})
	}
	for _, args := range [][]string{{"--version"}, {"version"}, {"status", "--version"}, {"--config", cfg, "version"}} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			t.Parallel()
			r := mainArgs(t, env, args...)
			if r.code != 0 || !strings.HasPrefix(r.stdout, "xerosync ") || !strings.Contains(r.stdout, "\ncommit ") ||
				!strings.Contains(r.stdout, "\ngo       go1.") {
				t.Errorf("exit %d, stdout:\n%s", r.code, r.stdout)
			}
		})
	}
	// A missing file after the command is as much an error as before it.
	if r := mainArgs(t, env, "status", "--config", "/nonexistent/xerosync.toml"); r.code != daemon.ExitUsage ||
		!strings.Contains(r.stderr, "/nonexistent/xerosync.toml") {
		t.Errorf("missing --config after the command: exit %d, stderr:\n%s", r.code, r.stderr)
	}
	if r := mainArgs(t, env, "status", "--config="); r.code != daemon.ExitUsage || !strings.Contains(r.stderr, "--config needs a file name") {
		t.Errorf("empty --config: exit %d, stderr:\n%s", r.code, r.stderr)
	}
	// A command's help lists its own flags, and says where the global ones go.
	r := mainArgs(t, env, "status", "--help")
	if r.code != 0 || strings.Contains(r.stdout, "  --config") || !strings.Contains(r.stdout, "global flags, here or before the command: --config FILE") ||
		!strings.Contains(r.stdout, "--watch") {
		t.Errorf("status --help: exit %d:\n%s", r.code, r.stdout)
	}
}

// A slip of the keyboard gets the nearest command or flag; nonsense gets no guess.
func TestCLISuggestsNearest(t *testing.T) {
	t.Parallel()
	env := map[string]string{"XEROSYNC_DATABASE_URL": "postgres://127.0.0.1:1/none"}
	for _, tc := range []struct {
		args []string
		want string // "" for no suggestion
	}{
		{[]string{"stauts"}, `unknown command "stauts"; did you mean "status"?`},
		{[]string{"conect", "--tenant", tenantA}, `did you mean "connect"?`},
		{[]string{"rn"}, `did you mean "run"?`},
		{[]string{"back"}, `did you mean "backfill"?`},
		{[]string{"disconect"}, `did you mean "disconnect"?`},
		{[]string{"--config", "x.toml", "retyr"}, `did you mean "retry"?`},
		{[]string{"verison"}, `did you mean "version"?`},
		{[]string{"frobnicate"}, ""},
		{[]string{"status", "--tenat", tenantA}, "did you mean --tenant?"},
		{[]string{"status", "--jsn"}, "did you mean --json?"},
		{[]string{"--confg", "x", "status"}, "did you mean --config?"},
		{[]string{"status", "--everything"}, ""},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			t.Parallel()
			r := mainArgs(t, env, tc.args...)
			if r.code != daemon.ExitUsage {
				t.Errorf("exit %d, want 2", r.code)
			}
			if tc.want == "" && strings.Contains(r.stderr, "did you mean") {
				t.Errorf("a guess for nonsense:\n%s", r.stderr)
			}
			if !strings.Contains(r.stderr, tc.want) {
				t.Errorf("stderr lacks %q:\n%s", tc.want, r.stderr)
			}
		})
	}
}

// Each shell's script names every command and each command's flags, and bash's completes
// what an operator types (run in a real bash).
func TestCLICompletion(t *testing.T) {
	t.Parallel()
	scripts := map[string]string{}
	for _, shell := range []string{"bash", "zsh", "fish"} {
		r := mainArgs(t, nil, "completion", shell)
		if r.code != 0 {
			t.Fatalf("completion %s: exit %d\n%s", shell, r.code, r.stderr)
		}
		for _, want := range []string{"run", "connect", "disconnect", "backfill", "status", "retry", "check", "migrate",
			"version", "completion", "tenant", "since", "watch", "config"} {
			if !strings.Contains(r.stdout, want) {
				t.Errorf("%s script lacks %q", shell, want)
			}
		}
		scripts[shell] = r.stdout
		// The shell itself parses the script, where it is installed.
		if path, err := exec.LookPath(shell); err == nil {
			file := filepath.Join(t.TempDir(), "xerosync."+shell)
			if err := os.WriteFile(file, []byte(r.stdout), 0o600); err != nil {
				t.Fatal(err)
			}
			if out, err := exec.Command(path, "-n", file).CombinedOutput(); err != nil {
				t.Errorf("%s -n: %v\n%s", shell, err, out)
			}
		}
	}
	if r := mainArgs(t, nil, "completion", "tcsh"); r.code != daemon.ExitUsage || !strings.Contains(r.stderr, "bash, zsh or fish") {
		t.Errorf("completion tcsh: exit %d\n%s", r.code, r.stderr)
	}
	if !strings.Contains(scripts["fish"], "complete -c xerosync -n '__fish_seen_subcommand_from backfill' -l since -x") ||
		!strings.Contains(scripts["zsh"], "#compdef xerosync") {
		t.Error("zsh or fish script is not what the shells expect")
	}

	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("no bash to run the bash completion in")
	}
	file := filepath.Join(t.TempDir(), "xerosync.bash")
	if err := os.WriteFile(file, []byte(scripts["bash"]), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		words string // the command line so far; the last word is being completed
		want  string // the completions, space-separated
	}{
		{"xerosync sta", "status"},
		{"xerosync re", "retry resync"},
		{"xerosync ''", "run connect disconnect backfill status retry check migrate resync rotate-key version completion help"},
		{"xerosync --config /etc/x.toml ba", "backfill"},
		{"xerosync status --", "--config --help --interval --json --tenant --version --watch"},
		{"xerosync backfill --tenant X --s", "--since"},
		{"xerosync --config /etc/x.toml retry --c", "--code --config"},
		{"xerosync -", "--config --help --version"},
		{"xerosync completion ''", "bash zsh fish"},
		{"xerosync help ch", "check"},
		{"xerosync connect --tenant ''", ""},
	} {
		script := `. "$1"; COMP_WORDS=(` + tc.words + `); COMP_CWORD=$((${#COMP_WORDS[@]} - 1)); _xerosync; echo "${COMPREPLY[*]}"`
		out, err := exec.Command(bash, "-c", script, "bash", file).CombinedOutput()
		if got := strings.TrimSpace(string(out)); err != nil || got != tc.want {
			t.Errorf("completing %q: got %q (%v), want %q", tc.words, got, err, tc.want)
		}
	}
}
