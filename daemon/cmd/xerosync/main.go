// Command xerosync is the xerosync daemon and its operator commands; see package daemon.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/softbooq/xerosync/config"
	"github.com/softbooq/xerosync/daemon"
)

func main() {
	// SIGTERM is how systemd stops the service; SIGINT is Ctrl-C. Either ends ctx, and the
	// daemon drains and exits 0. Catching stops as soon as ctx ends, so a second signal
	// during a slow drain kills the process the default way.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	context.AfterFunc(ctx, stop)
	code := daemon.MainWith(ctx, daemon.MainParams{
		Args:   os.Args[1:],
		Env:    config.EnvMap(os.Environ()),
		Stdin:  os.Stdin, // connect asks which organisation to link, on a terminal
		Stdout: os.Stdout,
		Stderr: os.Stderr,
	})
	stop()
	os.Exit(code)
}
