//go:build dockertest

package pgtest

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/ory/dockertest/v3"
	"github.com/ory/dockertest/v3/docker"
)

// The Docker backend: built with -tags dockertest and chosen with
// XEROSYNC_TEST_BACKEND=docker, for machines that have a Docker engine and no local server
// binaries. It runs postgres:15 with wal_level=logical behind the same Cluster API (Start,
// Stop and Restart are for the local backend only).

func init() {
	startDocker = func(ctx context.Context) (*Cluster, error) {
		pool, err := dockertest.NewPool("")
		if err != nil {
			return nil, fmt.Errorf("docker: %w", err)
		}
		res, err := pool.RunWithOptions(&dockertest.RunOptions{
			Repository: "postgres", Tag: "15",
			Env: []string{"POSTGRES_HOST_AUTH_METHOD=trust"},
			Cmd: []string{"postgres", "-c", "wal_level=logical", "-c", "max_replication_slots=40",
				"-c", "max_wal_senders=40", "-c", "max_connections=200", "-c", "fsync=off"},
		}, func(hc *docker.HostConfig) { hc.AutoRemove = true })
		if err != nil {
			return nil, fmt.Errorf("docker: run postgres:15: %w", err)
		}
		_ = res.Expire(3600) // a crashed test run must not leave it behind for ever
		c, err := External(fmt.Sprintf("postgres://postgres@%s/postgres", res.GetHostPort("5432/tcp")))
		if err != nil {
			return nil, err
		}
		c.closeFn = func() error { return pool.Purge(res) }
		pool.MaxWait = 2 * time.Minute
		err = pool.Retry(func() error {
			conn, err := pgx.Connect(ctx, c.URL("postgres"))
			if err != nil {
				return err
			}
			return conn.Close(ctx)
		})
		if err != nil {
			_ = pool.Purge(res)
			return nil, fmt.Errorf("docker: postgres did not start: %w", err)
		}
		return c, nil
	}
}
