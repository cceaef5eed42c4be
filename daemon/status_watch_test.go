package daemon

import (
	"context"
	"fmt"
	"io"
	"strings"
	"testing"
	"testing/synctest"
	"time"
)

// --watch renders every interval until interrupted: in place on a terminal (cursor home,
// lines overwritten, the rest of the screen cleared), one rendering after another elsewhere.
func TestStatusWatch(t *testing.T) {
	t.Parallel()
	for _, tty := range []bool{true, false} {
		t.Run(fmt.Sprintf("tty=%v", tty), func(t *testing.T) {
			t.Parallel()
			synctest.Test(t, func(t *testing.T) {
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				var out strings.Builder
				n := 0
				err := watchStatus(ctx, &out, tty, 2*time.Second, func(w io.Writer) error {
					n++
					fmt.Fprintf(w, "rendering %d\nsecond line\n", n)
					return nil
				})
				if err != nil {
					t.Fatal(err)
				}
				// At 0 s, 2 s and 4 s; the interruption at 5 s is a clean stop.
				if n != 3 {
					t.Fatalf("%d renderings in 5 s at 2 s intervals, want 3:\n%q", n, out.String())
				}
				got := out.String()
				if tty {
					if !strings.HasPrefix(got, "\x1b[2J\x1b[H") || strings.Count(got, "\x1b[H") != 3 || strings.Count(got, "\x1b[2J") != 1 ||
						!strings.Contains(got, "rendering 3\x1b[K\n") || !strings.HasSuffix(got, "\x1b[J") {
						t.Errorf("terminal output not redrawn in place: %q", got)
					}
				} else if strings.Contains(got, "\x1b") || strings.Count(got, "(Ctrl-C to stop)") != 3 || !strings.Contains(got, "rendering 3\n") {
					t.Errorf("plain output: %q", got)
				}
			})
		})
	}
	// A failed read ends the watch with its error.
	err := watchStatus(context.Background(), io.Discard, false, time.Second, func(io.Writer) error { return io.ErrUnexpectedEOF })
	if err != io.ErrUnexpectedEOF {
		t.Errorf("err = %v", err)
	}
}

func TestNearest(t *testing.T) {
	t.Parallel()
	cmds := []string{"run", "connect", "disconnect", "backfill", "status", "retry", "check", "migrate", "version", "completion", "help"}
	for in, want := range map[string]string{
		"stauts": "status", "statsu": "status", "sttus": "status", "rnu": "run", "chek": "check", "migarte": "migrate",
		"comp": "completion", "b": "", "xy": "", "frobnicate": "", "status": "", "conn": "connect", "c": "",
	} {
		if got := nearest(in, cmds); got != want {
			t.Errorf("nearest(%q) = %q, want %q", in, got, want)
		}
	}
	for a, b := range map[[2]string]int{{"", "abc"}: 3, {"abc", ""}: 3, {"ab", "ba"}: 1, {"kitten", "sitting"}: 3, {"same", "same"}: 0} {
		if got := editDistance(a[0], a[1]); got != b {
			t.Errorf("editDistance(%q, %q) = %d, want %d", a[0], a[1], got, b)
		}
	}
}
