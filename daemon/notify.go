package daemon

import (
	"fmt"
	"net"
	"os"
	"strconv"
	"time"
)

// notifier speaks systemd's sd_notify protocol: one datagram per message to the unix socket
// named by NOTIFY_SOCKET (a leading '@' is an abstract socket, which Go's net package maps to
// the abstract namespace itself). It is a few lines, so we write it rather than take a
// dependency. Without NOTIFY_SOCKET (not under systemd) every method does nothing.
type notifier struct {
	addr *net.UnixAddr
	// watchdog is half of WATCHDOG_USEC, as sd_watchdog_enabled(3) advises; zero when
	// systemd asked for no watchdog, or asked it of another process.
	watchdog time.Duration
}

func newNotifier(env map[string]string) *notifier {
	n := &notifier{}
	if socket := env["NOTIFY_SOCKET"]; socket != "" {
		n.addr = &net.UnixAddr{Name: socket, Net: "unixgram"}
	}
	usec, err := strconv.ParseInt(env["WATCHDOG_USEC"], 10, 64)
	if err == nil && usec > 0 {
		// WATCHDOG_PID, when set, names the process the watchdog is meant for: a child
		// started by the service must not answer for it.
		if pid := env["WATCHDOG_PID"]; pid == "" || pid == strconv.Itoa(os.Getpid()) {
			n.watchdog = time.Duration(usec) * time.Microsecond / 2
		}
	}
	return n
}

// send delivers one notification, such as "READY=1" or "STATUS=leader: capturing".
func (n *notifier) send(state string) error {
	if n == nil || n.addr == nil {
		return nil
	}
	conn, err := net.DialUnix("unixgram", nil, n.addr)
	if err != nil {
		return fmt.Errorf("sd_notify %s: %w", n.addr.Name, err)
	}
	defer conn.Close()
	if _, err := conn.Write([]byte(state)); err != nil {
		return fmt.Errorf("sd_notify %s: %w", n.addr.Name, err)
	}
	return nil
}
