package daemon

import (
	"io"
	"log/slog"
	"os"

	"github.com/lmittmann/tint"
	"golang.org/x/term"

	"github.com/softbooq/xerosync/config"
)

// newLogger builds the one logger of a command: JSON when log.format is json, otherwise tint's
// text. Colour only when w is a terminal (and NO_COLOR is unset), because escape codes in a
// file or the journal are noise; no timestamp under journald (JOURNAL_STREAM set), which
// stamps every line itself.
func newLogger(w io.Writer, env map[string]string, cfg config.LogConfig) *slog.Logger {
	_, journald := env["JOURNAL_STREAM"]
	if cfg.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: cfg.Level}))
	}
	opts := &tint.Options{
		Level:      cfg.Level,
		TimeFormat: "2006-01-02 15:04:05.000",
		NoColor:    !isTerminal(w) || env["NO_COLOR"] != "",
	}
	if journald {
		opts.ReplaceAttr = func(groups []string, a slog.Attr) slog.Attr {
			if len(groups) == 0 && a.Key == slog.TimeKey {
				return slog.Attr{}
			}
			return a
		}
	}
	return slog.New(tint.NewTextHandler(w, opts))
}

// isTerminal reports whether w is a terminal (a character device such as /dev/null is not
// one: x/term asks the kernel for terminal attributes, not for the file's mode).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}
