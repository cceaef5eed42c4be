package outbox

import (
	"context"
	_ "embed"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/softbooq/xerosync/cdc"
)

var (
	//go:embed sql/resync_tenants.sql
	resyncTenantsSQL string
	//go:embed sql/resync_disconnected.sql
	resyncDisconnectedSQL string
	//go:embed sql/resync_customers.sql
	resyncCustomersSQL string
	//go:embed sql/resync_invoices.sql
	resyncInvoicesSQL string
	//go:embed sql/resync_voids.sql
	resyncVoidsSQL string
	//go:embed sql/resync_payments.sql
	resyncPaymentsSQL string
)

// sourceResync marks the rows Resync queues (xerosync.outbox.source).
const sourceResync = "resync"

// ResyncTenant is what Resync found and queued for one tenant.
type ResyncTenant struct {
	Tenant string
	// Customers counts the customers compared with what their contact was last queued with.
	Customers int
	// The rows queued: contact upserts (changed customers, new ones, and contacts an invoice
	// needs first), invoice issues, voids and payments.
	Contacts, Invoices, Voids, Payments int
}

// Queued is how many rows were queued for the tenant.
func (t ResyncTenant) Queued() int { return t.Contacts + t.Invoices + t.Voids + t.Payments }

// ResyncResult is what Resync found and queued, per tenant.
type ResyncResult struct {
	Tenants []ResyncTenant
	// DisconnectedInGap are tenants disconnected after the lost slot's position: their
	// window closed at a point of the lost WAL, so their changes there are not recovered
	// (backfill covers their invoices once they connect again).
	DisconnectedInGap []string
}

// Resync queues, inside tx, what capture would have queued from the WAL a lost slot held:
// tx sees the database as of s.Start (cdc.Recreate imports the new slot's snapshot), and
// for every tenant connected there it compares Softbooq's tables with what the outbox and
// xerosync.entities record, with the enqueuer's own rules:
//
//   - a customer whose Xero-held fields hash differently from its last queued contact row
//     (entityState.contactChanged) gets an upsert; one never queued, only if it was inserted
//     or updated since the tenant connected (older ones are backfill's history);
//   - an issued or paid invoice whose issue was never queued, changed since the connect, gets
//     its contact first when that was never queued (entityState.known) and its issue, and a
//     void after it when it is void now (claimInvoices, planBackfillInvoices: backfill's
//     claim);
//   - an invoice void now whose issue was queued and its void not gets its void;
//   - a payment with no row and not in Xero, of an issued invoice not voided, gets its row.
//
// Nothing already queued is queued again: every rule reads the outbox and the entities
// first. The rows are written with writeRows (source 'resync'), in the order above.
func Resync(ctx context.Context, tx pgx.Tx, s cdc.Snapshot) (ResyncResult, error) {
	var res ResyncResult
	rows, err := tx.Query(ctx, resyncTenantsSQL, s.Start.String())
	if err != nil {
		return res, fmt.Errorf("read connected tenants: %w", err)
	}
	type tenant struct {
		ID        string
		Connected time.Time
	}
	tenants, err := pgx.CollectRows(rows, pgx.RowToStructByPos[tenant])
	if err != nil {
		return res, fmt.Errorf("read connected tenants: %w", err)
	}
	for _, t := range tenants {
		r, err := resyncTenant(ctx, tx, t.ID, t.Connected)
		if err != nil {
			return res, fmt.Errorf("tenant %s: %w", t.ID, err)
		}
		res.Tenants = append(res.Tenants, r)
	}
	if s.Stored != 0 {
		rows, err := tx.Query(ctx, resyncDisconnectedSQL, s.Stored.String())
		if err != nil {
			return res, fmt.Errorf("read disconnected tenants: %w", err)
		}
		if res.DisconnectedInGap, err = pgx.CollectRows(rows, pgx.RowTo[string]); err != nil {
			return res, fmt.Errorf("read disconnected tenants: %w", err)
		}
	}
	return res, nil
}

// resyncTenant queues one tenant's missing rows: contacts, invoices, voids, then payments,
// so that each row's parent is queued before it.
func resyncTenant(ctx context.Context, tx pgx.Tx, tenant string, connected time.Time) (ResyncTenant, error) {
	res := ResyncTenant{Tenant: tenant}
	// Backfill's lock: a backfill of the tenant running meanwhile cannot queue the same rows.
	if _, err := tx.Exec(ctx, backfillLockSQL, tenant); err != nil {
		return res, fmt.Errorf("lock the tenant's backfill: %w", err)
	}
	if err := resyncContacts(ctx, tx, tenant, connected, &res); err != nil {
		return res, err
	}
	if err := resyncInvoices(ctx, tx, tenant, connected, &res); err != nil {
		return res, err
	}
	if err := resyncVoids(ctx, tx, tenant, &res); err != nil {
		return res, err
	}
	return res, resyncPayments(ctx, tx, tenant, &res)
}

// resyncCustomer is a customer as resync compares it.
type resyncCustomer struct {
	id     string
	fields ContactFields
	recent bool // inserted or updated since the tenant connected
}

func resyncContacts(ctx context.Context, tx pgx.Tx, tenant string, connected time.Time, res *ResyncTenant) error {
	rows, err := tx.Query(ctx, resyncCustomersSQL, tenant, connected)
	if err != nil {
		return readError("crm.customers", err)
	}
	type candidate struct {
		ID     string
		Recent bool
	}
	cands, err := pgx.CollectRows(rows, pgx.RowToStructByPos[candidate])
	if err != nil {
		return fmt.Errorf("read customers: %w", err)
	}
	res.Customers = len(cands)
	if len(cands) == 0 {
		return nil
	}
	ids := make([]string, len(cands))
	for i, c := range cands {
		ids[i] = c.ID
	}
	// The enqueuer's own reads: the last queued hash of each contact, and the current
	// Xero-held fields of each customer.
	l := &loaded{states: map[entityKey]*entityState{}}
	if err := l.loadStates(ctx, tx, ids, nil); err != nil {
		return err
	}
	if err := l.fetchCustomers(ctx, tx, ids); err != nil {
		return err
	}
	customers := make([]resyncCustomer, 0, len(cands))
	for _, c := range cands {
		if f, ok := l.customers[c.ID]; ok {
			customers = append(customers, resyncCustomer{id: c.ID, fields: f, recent: c.Recent})
		}
	}
	queued := planResyncContacts(tenant, customers, l.states)
	res.Contacts += len(queued)
	return writeRows(ctx, tx, queued)
}

// planResyncContacts decides which customers get a contact upsert: one queued before, when
// its fields hash differently from the last queued ones (contactChanged, capture's rule);
// one never queued, when it changed since the tenant connected (capture queues every
// insert, and an update of a customer it has no row of).
func planResyncContacts(tenant string, customers []resyncCustomer, states map[entityKey]*entityState) []row {
	var out []row
	for _, c := range customers {
		body, hash := ContactUpsert(c.id, c.fields)
		st := states[entityKey{EntityContact, c.id}]
		switch {
		case st != nil && st.hash != nil:
			if !st.contactChanged(hash) {
				continue
			}
		case !c.recent:
			continue
		}
		out = append(out, row{tenant: tenant, entity: EntityContact, id: c.id, action: ActionUpsert,
			body: body, hash: hash, source: sourceResync})
	}
	return out
}

// resyncInvoices queues the issues never queued, as backfill does: claim, read, contact
// first where needed, issue, and the void of an invoice void now.
func resyncInvoices(ctx context.Context, tx pgx.Tx, tenant string, connected time.Time, res *ResyncTenant) error {
	rows, err := tx.Query(ctx, resyncInvoicesSQL, tenant, connected)
	if err != nil {
		return readError("finance.invoices", err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return fmt.Errorf("read invoices: %w", err)
	}
	if len(ids) == 0 {
		return nil
	}
	_, counts, err := queueClaimedInvoices(ctx, tx, tenant, ids, sourceResync)
	if err != nil {
		return err
	}
	res.Contacts += counts.Contacts
	res.Invoices += counts.Invoices
	res.Voids += counts.Voids
	return nil
}

// resyncVoids queues the voids of invoices whose issue was queued before the slot was lost.
func resyncVoids(ctx context.Context, tx pgx.Tx, tenant string, res *ResyncTenant) error {
	rows, err := tx.Query(ctx, resyncVoidsSQL, tenant)
	if err != nil {
		return readError("finance.invoices", err)
	}
	type void struct{ ID, Number string }
	voids, err := pgx.CollectRows(rows, pgx.RowToStructByPos[void])
	if err != nil {
		return fmt.Errorf("read voided invoices: %w", err)
	}
	if len(voids) == 0 {
		return nil
	}
	queued := make([]row, 0, len(voids))
	var states entityStates
	for _, v := range voids {
		void, err := voidRow(tenant, v.ID, v.Number, sourceResync)
		if err != nil {
			return err
		}
		queued = append(queued, void)
		states.add(EntityInvoice, v.ID, tenant, true, true)
	}
	if err := writeRows(ctx, tx, queued); err != nil {
		return err
	}
	res.Voids += len(queued)
	return storeEntityStates(ctx, tx, states)
}

// resyncPayments queues the payments capture would have queued (resync_payments.sql).
func resyncPayments(ctx context.Context, tx pgx.Tx, tenant string, res *ResyncTenant) error {
	var ids []string
	if err := tx.QueryRow(ctx, resyncPaymentsSQL, tenant).Scan(&ids); err != nil {
		return readError("finance.payments", err)
	}
	if len(ids) == 0 {
		return nil
	}
	queued, err := paymentRows(ctx, tx, tenant, ids, sourceResync)
	if err != nil {
		return err
	}
	res.Payments += len(queued)
	return writeRows(ctx, tx, queued)
}
