package daemon

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/softbooq/xerosync/config"
	"github.com/softbooq/xerosync/internal/migrate"
	"github.com/softbooq/xerosync/outbox"
)

// tenantFlag registers --tenant, required unless optional.
func tenantFlag(fs *flag.FlagSet) *string {
	return fs.String("tenant", "", "the Softbooq tenant `ID` (a UUID, core.tenants.id)")
}

// checkTenant validates a --tenant value and writes it back in the lower case it is stored
// and printed in.
func checkTenant(cmd string, tenant *string, required bool) error {
	id := *tenant
	*tenant = id
	if id == "" {
		if required {
			return usagef(cmd, "%s: --tenant ID is required", cmd)
		}
		return nil
	}
	if !isUUID(id) {
		return usagef(cmd, "%s: --tenant %q is not a tenant id (a UUID such as 0b7d4c3e-8f1a-4e55-9a3c-2d6f1e0b9c47)", cmd, id)
	}
	return nil
}

// isUUID accepts the canonical 8-4-4-4-12 hex form, which is how tenant ids are printed
// (google/uuid also reads the braced, urn: and undashed forms, which we do not print).
func isUUID(s string) bool { return len(s) == 36 && uuid.Validate(s) == nil }

func migrateFlags(fs *flag.FlagSet, inv *invocation) func(context.Context) error {
	return func(ctx context.Context) error {
		_, log, conn, err := inv.setupDB(ctx)
		if err != nil {
			return err
		}
		defer conn.Close(context.WithoutCancel(ctx))
		applied, err := migrate.Up(ctx, conn)
		if err != nil {
			return fmt.Errorf("migrate: %w", err)
		}
		if len(applied) == 0 {
			fmt.Fprintln(inv.p.Stdout, "schema xerosync is up to date")
			return nil
		}
		all, err := migrate.All()
		if err != nil {
			return err
		}
		for _, m := range all {
			for _, v := range applied {
				if m.Version == v {
					fmt.Fprintf(inv.p.Stdout, "applied %s\n", m.Name)
				}
			}
		}
		log.Info("migrations applied", "versions", applied)
		return nil
	}
}

func retryFlags(fs *flag.FlagSet, inv *invocation) func(context.Context) error {
	id := fs.Int64("id", 0, "retry the outbox row with this `N` (xerosync.outbox.id)")
	tenant := tenantFlag(fs)
	code := fs.String("code", "", "with --tenant: retry the tenant's rows whose last_error_code is `CODE` (e.g. CurrencyNotEnabled)")
	return func(ctx context.Context) error {
		byID := *id != 0
		byCode := *tenant != "" || *code != ""
		switch {
		case byID && byCode:
			return usagef("retry", "retry: give either --id or --tenant with --code, not both")
		case !byID && !byCode:
			return usagef("retry", "retry: give --id N, or --tenant ID --code CODE")
		case byID && *id < 0:
			return usagef("retry", "retry: --id must be a positive outbox id")
		case byCode && (*tenant == "" || *code == ""):
			return usagef("retry", "retry: --tenant and --code go together")
		}
		if err := checkTenant("retry", tenant, false); err != nil {
			return err
		}
		_, _, conn, err := inv.setupDB(ctx)
		if err != nil {
			return err
		}
		defer conn.Close(context.WithoutCancel(ctx))
		if byID {
			return retryID(ctx, inv, conn, *id)
		}
		n, err := outbox.RetryByCode(ctx, conn, *tenant, *code)
		if err != nil {
			return fmt.Errorf("retry: %w", err)
		}
		if n == 0 {
			fmt.Fprintf(inv.p.Stdout, "no failed or pending rows of tenant %s have last_error_code %s; nothing to retry (see xerosync status --tenant %s)\n", *tenant, *code, *tenant)
			return nil
		}
		fmt.Fprintf(inv.p.Stdout, "%d rows flagged for retry; the running daemon sends them again within 2 seconds\n", n)
		return nil
	}
}

func retryID(ctx context.Context, inv *invocation, conn *pgx.Conn, id int64) error {
	state, flagged, err := outbox.RetryByID(ctx, conn, id)
	switch {
	case errors.Is(err, outbox.ErrNoRow):
		return fmt.Errorf("retry: there is no outbox row %d (see xerosync status, or SELECT id FROM xerosync.outbox WHERE state = 'failed')", id)
	case err != nil:
		return fmt.Errorf("retry: %w", err)
	case !flagged:
		return fmt.Errorf("retry: outbox row %d is %s, so there is nothing to retry; only failed or pending rows can be retried", id, state)
	}
	fmt.Fprintf(inv.p.Stdout, "row %d flagged for retry; the running daemon sends it again within 2 seconds\n", id)
	return nil
}

// setupDB is setup plus one database connection, for the commands that need only that; the
// caller closes the connection.
func (inv *invocation) setupDB(ctx context.Context) (*config.Config, *slog.Logger, *pgx.Conn, error) {
	cfg, log, err := inv.setup()
	if err != nil {
		return nil, nil, nil, err
	}
	conn, err := connect(ctx, cfg)
	if err != nil {
		return nil, nil, nil, err
	}
	return cfg, log, conn, nil
}

// errDatabaseURL is database.url that pgx cannot parse. pgx's own parse errors can quote
// the URL, password and all: say only which setting is wrong.
var errDatabaseURL = &config.Errors{{Key: "database.url", Msg: "not a valid PostgreSQL URL or connection string"}}

// connConfig is database.url for one connection named app in pg_stat_activity.
func connConfig(cfg *config.Config, app string) (*pgx.ConnConfig, error) {
	pcfg, err := pgx.ParseConfig(cfg.Database.URL.Reveal())
	if err != nil {
		return nil, errDatabaseURL
	}
	pcfg.RuntimeParams["application_name"] = app
	return pcfg, nil
}

// poolConfig is database.url for a pool of connections named xerosync.
func poolConfig(cfg *config.Config) (*pgxpool.Config, error) {
	pcfg, err := pgxpool.ParseConfig(cfg.Database.URL.Reveal())
	if err != nil {
		return nil, errDatabaseURL
	}
	pcfg.ConnConfig.RuntimeParams["application_name"] = "xerosync"
	return pcfg, nil
}

// connect opens one plain session for a command. Its errors say which database (redacted)
// and what to check.
func connect(ctx context.Context, cfg *config.Config) (*pgx.Conn, error) {
	pcfg, err := connConfig(cfg, "xerosync")
	if err != nil {
		return nil, err
	}
	cctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	conn, err := pgx.ConnectConfig(cctx, pcfg)
	if err != nil {
		return nil, connectError(cfg, err)
	}
	return conn, nil
}

func connectError(cfg *config.Config, err error) error {
	hint := "check database.url and that PostgreSQL is running and reachable"
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "3D000" {
		hint = "the database does not exist; check database.url"
	}
	return fmt.Errorf("cannot connect to the database %s: %w; %s",
		cfg.Database.RedactedURL(), err, strings.TrimSuffix(hint, "."))
}
