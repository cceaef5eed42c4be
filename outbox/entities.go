package outbox

import (
	"context"
	_ "embed"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// xerosync.entities holds, per Softbooq entity, whether its issue and void were queued and its
// Xero id once pushed. Its two writers on the queueing side are here, side by side, because
// they keep one rule between them, "an invoice is issued once": capture stores what it
// queued (storeEntityStates), backfill claims what it is about to queue (claimInvoices), and
// each reads the other's flags before queueing an issue or a void. (The dispatcher's writes,
// the Xero ids, are in dispatch_link.sql and dispatch_record.sql.)

var (
	//go:embed sql/store_entities.sql
	storeEntitiesSQL string
	//go:embed sql/claim_invoices.sql
	claimInvoicesSQL string
)

// entityStates are the entity states to store, as parallel columns for one statement.
type entityStates struct {
	entities, ids, tenants []string
	issued, voided         []bool
}

func (s *entityStates) add(entity, id, tenant string, issued, voided bool) {
	s.entities, s.ids, s.tenants = append(s.entities, entity), append(s.ids, id), append(s.tenants, tenant)
	s.issued, s.voided = append(s.issued, issued), append(s.voided, voided)
}

// storeEntityStates writes what capture queued of invoices (issued, voided), new entities and
// known ones alike, in one statement.
func storeEntityStates(ctx context.Context, tx pgx.Tx, s entityStates) error {
	if len(s.entities) == 0 {
		return nil
	}
	if _, err := tx.Exec(ctx, storeEntitiesSQL, s.entities, s.ids, s.tenants, s.issued, s.voided); err != nil {
		return fmt.Errorf("store entity states: %w", err)
	}
	return nil
}

// claimInvoices records that the issue (and for a void invoice, the void) of the invoices ids
// is queued, and returns those this transaction claimed: one whose issue capture queued
// meanwhile is not among them (sql/claim_invoices.sql).
func claimInvoices(ctx context.Context, tx pgx.Tx, ids []string) ([]string, error) {
	rows, err := tx.Query(ctx, claimInvoicesSQL, ids)
	if err != nil {
		return nil, fmt.Errorf("claim invoices: %w", err)
	}
	claimed, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("claim invoices: %w", err)
	}
	return claimed, nil
}
