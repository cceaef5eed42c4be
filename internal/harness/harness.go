// Package harness runs the whole of xerosync on one machine for the demo and the torture
// run: a throwaway PostgreSQL with Softbooq's schema and sample data, the Xero simulator, and
// real `xerosync` processes started from the built binary. It is not used by the daemon.
package harness

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/softbooq/xerosync/internal/pgtest"
	"github.com/softbooq/xerosync/internal/simclock"
	"github.com/softbooq/xerosync/xero/xerosim"
)

// Params configures a Stack.
type Params struct {
	Bin string         // the xerosync binary
	Sim xerosim.Config // Clients is filled in
	// Out receives the processes' output, each line prefixed; nil discards it.
	Out io.Writer
	// Standby adds a synchronous streaming standby (pgtest.StartStandby): daemons and DB
	// then use a multi-host URL that finds whichever of the two accepts writes, as an
	// operator configures xerosync for failover.
	Standby bool
}

// Stack is a running PostgreSQL + simulator, with Softbooq seeded.
type Stack struct {
	Cluster   *pgtest.Cluster
	Standby   *pgtest.Cluster // with Params.Standby
	DB        *pgxpool.Pool
	Sim       *xerosim.Sim
	SimServer *httptest.Server
	Org       string   // the Xero tenant id of "Kiwi Kitchens Ltd"
	Tenants   []string // Softbooq tenants: Kiwi Kitchens Ltd, Tui Tours
	Dir       string
	Bin       string
	// shareClock: the simulator's clients share its clock (xerosim.Config.ClientsShareClock),
	// so every xerosync process started gets it (env).
	shareClock bool

	out      io.Writer
	client   xerosim.Client
	redirect string
	keyFile  string
}

// Start starts PostgreSQL and the simulator and seeds Softbooq.
func Start(ctx context.Context, p Params) (*Stack, error) {
	bin, err := filepath.Abs(p.Bin)
	if err != nil {
		return nil, err
	}
	s := &Stack{Bin: bin, out: p.Out, shareClock: p.Sim.ClientsShareClock}
	if s.out == nil {
		s.out = io.Discard
	}
	ok := false
	defer func() {
		if !ok {
			s.Close()
		}
	}()
	if s.Cluster, err = pgtest.StartLocal(ctx, pgtest.LocalConfig{}); err != nil {
		return nil, err
	}
	if err := s.seed(ctx); err != nil {
		return nil, fmt.Errorf("seed softbooq: %w", err)
	}
	if p.Standby {
		if s.Standby, err = s.Cluster.StartStandby(ctx, pgtest.StandbyConfig{Synchronous: true}); err != nil {
			return nil, fmt.Errorf("standby: %w", err)
		}
		s.DB.Close()
		if s.DB, err = pgxpool.New(ctx, s.URL()); err != nil {
			return nil, err
		}
	}
	if s.Dir, err = os.MkdirTemp("", "xerosync-harness-"); err != nil {
		return nil, err
	}
	s.Sim, s.SimServer = xerosim.Start(p.Sim)
	// The redirect's port is picked once the simulator listens, so the kernel cannot hand
	// the simulator the port just picked for connect's listener (seen once in CI). Another
	// process may still take it before connect listens: the race is smaller, not gone.
	s.client = xerosim.DefaultClient() // registered by Start; replaced with our redirect
	if s.redirect, err = FreeAddr(); err != nil {
		return nil, err
	}
	s.client.RedirectURIs = []string{"http://" + s.redirect + "/callback"}
	s.Sim.AddClient(s.client)
	s.Org = s.Sim.MustAddOrg(xerosim.DefaultOrg("Kiwi Kitchens Ltd"))
	s.Sim.MustAddOrg(xerosim.DefaultOrg("Kiwi Kitchens (old books)"))
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	s.keyFile = filepath.Join(s.Dir, "token-key")
	if err := os.WriteFile(s.keyFile, []byte(base64.StdEncoding.EncodeToString(key)), 0o600); err != nil {
		return nil, err
	}
	ok = true
	return s, nil
}

// Close stops everything Start started and removes its files.
func (s *Stack) Close() {
	if s.SimServer != nil {
		s.SimServer.Close()
	}
	if s.DB != nil {
		s.DB.Close()
	}
	if s.Cluster != nil {
		_ = s.Cluster.Close()
	}
	if s.Standby != nil {
		_ = s.Standby.Close()
	}
	if s.Dir != "" {
		_ = os.RemoveAll(s.Dir)
	}
}

// URL is the Softbooq database URL: with a standby, both servers, of which the one that
// accepts writes is used (libpq's multi-host form, which pgx follows too).
func (s *Stack) URL() string {
	if s.Standby == nil {
		return s.Cluster.URL("softbooq")
	}
	return fmt.Sprintf("postgres://postgres@%s,%s/softbooq?sslmode=disable&target_session_attrs=read-write",
		s.Cluster.HostPort(), s.Standby.HostPort())
}

func (s *Stack) seed(ctx context.Context) error {
	// Our schema too: the daemon would apply it on start, and the demo reads it before that.
	url, err := s.Cluster.CreateDatabase(ctx, "softbooq")
	if err != nil {
		return err
	}
	if s.DB, err = pgxpool.New(ctx, url); err != nil {
		return err
	}
	for _, name := range []string{"Kiwi Kitchens Ltd", "Tui Tours"} {
		var id string
		if err := s.DB.QueryRow(ctx, "INSERT INTO core.tenants (name) VALUES ($1) RETURNING id::text", name).Scan(&id); err != nil {
			return err
		}
		s.Tenants = append(s.Tenants, id)
	}
	// Both tenants map their categories, taxes and payment methods; the first has history.
	for _, tenant := range s.Tenants {
		for _, stmt := range []string{
			`INSERT INTO integrations.xero_account_mappings VALUES ($1, 'catering', '200'), ($1, 'equipment', '200')`,
			`INSERT INTO integrations.xero_tax_mappings VALUES ($1, 'GST15', 'OUTPUT2')`,
			`INSERT INTO integrations.xero_payment_accounts VALUES ($1, 'bank_transfer', '090'), ($1, 'card', '090')`,
		} {
			if _, err := s.DB.Exec(ctx, stmt, tenant); err != nil {
				return err
			}
		}
	}
	for _, stmt := range []string{
		`INSERT INTO crm.customers (tenant_id, name, first_name, last_name, email, phone, city, country_code)
		 VALUES ($1, 'Aroha Events', 'Aroha', 'Ngata', 'aroha@events.example', '+64 9 555 0101', 'Auckland', 'NZ'),
		        ($1, 'Harbour Café', NULL, NULL, 'hello@harbour.example', NULL, 'Wellington', 'NZ')`,
		`INSERT INTO finance.invoices (tenant_id, customer_id, number, status, currency, issue_date, due_date, amounts_tax, issued_at)
		 SELECT $1, id, 'INV-0001', 'issued', 'NZD', '2026-10-01', '2026-10-31', 'exclusive', now() FROM crm.customers WHERE name = 'Aroha Events'`,
		`INSERT INTO finance.invoice_lines (invoice_id, tenant_id, position, description, quantity, unit_price, revenue_category, tax_component)
		 SELECT id, $1, 1, 'Wedding catering, 80 guests', 80, 42.5, 'catering', 'GST15' FROM finance.invoices WHERE number = 'INV-0001'`,
	} {
		if _, err := s.DB.Exec(ctx, stmt, s.Tenants[0]); err != nil {
			return err
		}
	}
	return nil
}

// Config writes a configuration file for a daemon listening on httpAddr.
func (s *Stack) Config(name, httpAddr string) (string, error) {
	file := filepath.Join(s.Dir, name+".toml")
	cfg := fmt.Sprintf(`[database]
url = %q

[http]
addr = %q

[xero]
client_id = %q
client_secret = %q
redirect_url = %q
login_url = %q
identity_url = %q
api_url = %q

[token]
key_file = %q
`, s.URL(), httpAddr, s.client.ID, s.client.Secret, "http://"+s.redirect+"/callback",
		s.SimServer.URL, s.SimServer.URL, s.SimServer.URL, s.keyFile)
	return file, os.WriteFile(file, []byte(cfg), 0o600)
}

// Daemon is a running `xerosync run`.
type Daemon struct {
	Name   string
	Addr   string // its HTTP address
	Config string
	cmd    *exec.Cmd
	exited chan struct{}
}

// StartDaemon starts `xerosync run` and waits until /healthz answers (as leader or standby).
func (s *Stack) StartDaemon(ctx context.Context, name string) (*Daemon, error) {
	addr, err := FreeAddr()
	if err != nil {
		return nil, err
	}
	cfg, err := s.Config(name, addr)
	if err != nil {
		return nil, err
	}
	d := &Daemon{Name: name, Addr: addr, Config: cfg, exited: make(chan struct{})}
	d.cmd = exec.Command(s.Bin, "--config", cfg, "run")
	d.cmd.Env = s.env("NO_COLOR=1")
	w := Prefixed(s.out, "  ["+name+"] ")
	d.cmd.Stdout, d.cmd.Stderr = w, w
	if err := d.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	go func() { _ = d.cmd.Wait(); close(d.exited) }()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get("http://" + addr + "/healthz")
		if err == nil {
			resp.Body.Close()
			return d, nil
		}
		select {
		case <-ctx.Done():
			d.Kill()
			return nil, ctx.Err()
		case <-d.exited:
			return nil, fmt.Errorf("%s exited during start-up", name)
		case <-time.After(100 * time.Millisecond):
		}
	}
	d.Kill()
	return nil, fmt.Errorf("%s did not answer /healthz within 60s", name)
}

// Clock is the simulator's clock as internal/simclock has it (after any Sim.Advance).
func (s *Stack) Clock() simclock.Clock {
	real, sim, scale := s.Sim.Clock()
	return simclock.Clock{Scale: scale, Real: real, Sim: sim}
}

// env is a xerosync process's environment: ours and extra, and, when the simulator's clients
// share its clock, that clock (so that a run at a time scale keeps Xero's limits: the daemons
// pace by the simulated minute and day).
func (s *Stack) env(extra ...string) []string {
	env := append(os.Environ(), extra...)
	if s.shareClock {
		env = append(env, simclock.Env+"="+s.Clock().String())
	}
	return env
}

// Kill sends SIGKILL and waits.
func (d *Daemon) Kill() {
	_ = d.cmd.Process.Kill()
	<-d.exited
}

// Stop sends SIGTERM and waits (then kills after 60 s).
func (d *Daemon) Stop() {
	_ = d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-d.exited:
	case <-time.After(60 * time.Second):
		d.Kill()
	}
}

// Exited is closed when the process has ended.
func (d *Daemon) Exited() <-chan struct{} { return d.exited }

// Healthz returns the daemon's /healthz status code and body.
func (d *Daemon) Healthz() (int, string, error) {
	resp, err := http.Get("http://" + d.Addr + "/healthz")
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), nil
}

// Connect runs `xerosync connect` for tenant and plays the browser: it opens the printed
// authorisation URL; the simulator consents and redirects to connect's loopback listener.
func (s *Stack) Connect(ctx context.Context, cfgFile, tenant, org string) error {
	cmd := exec.CommandContext(ctx, s.Bin, "--config", cfgFile, "connect", "--tenant", tenant, "--org", org)
	cmd.Env = s.env()
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	cmd.Stderr = Prefixed(s.out, "  [connect] ")
	if err := cmd.Start(); err != nil {
		return err
	}
	sc := bufio.NewScanner(stdout)
	opened := false
	for sc.Scan() {
		line := sc.Text()
		fmt.Fprintln(s.out, "  [connect] "+line)
		if u := strings.TrimSpace(line); !opened && strings.HasPrefix(u, "http") && strings.Contains(u, "authorize") {
			opened = true
			go func() {
				resp, err := http.Get(u)
				if err == nil {
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
			}()
		}
	}
	if err := cmd.Wait(); err != nil {
		return fmt.Errorf("xerosync connect: %w", err)
	}
	if !opened {
		return errors.New("xerosync connect printed no authorisation URL")
	}
	return nil
}

// Run runs one xerosync command with its output prefixed.
func (s *Stack) Run(ctx context.Context, args ...string) error {
	cmd := exec.CommandContext(ctx, s.Bin, args...)
	cmd.Env = s.env()
	w := Prefixed(s.out, "    ")
	cmd.Stdout, cmd.Stderr = w, w
	return cmd.Run()
}

// Drained waits until no outbox row is pending or in flight.
func (s *Stack) Drained(ctx context.Context, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		var open int
		err := s.DB.QueryRow(ctx, `SELECT count(*) FROM xerosync.outbox WHERE state IN ('pending', 'in_flight')`).Scan(&open)
		if err == nil && open == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
	return errors.New("outbox not drained in time")
}

// Prefixed returns a writer that copies whole lines to w, each with prefix.
func Prefixed(w io.Writer, prefix string) io.Writer {
	pr, pw := io.Pipe()
	go func() {
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 64*1024), 1024*1024)
		for sc.Scan() {
			fmt.Fprintln(w, prefix+sc.Text())
		}
	}()
	return pw
}

// FreeAddr returns a loopback address with a port that was free a moment ago.
func FreeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}
