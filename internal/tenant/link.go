package tenant

import (
	"cmp"
	"context"
	_ "embed"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"github.com/jackc/pgx/v5"
	"golang.org/x/oauth2"

	"github.com/softbooq/xerosync/xero"
)

// Linking a Softbooq tenant to a Xero organisation (`xerosync connect`) and unlinking it
// (`xerosync disconnect`). The rules are pure functions over loaded data (PlanLink,
// PlanDisconnect), table-tested without a database; Links does the I/O around them and
// returns what it did, which the commands print.

var (
	//go:embed sql/link_tenant.sql
	linkTenantSQL string
	//go:embed sql/linked_orgs.sql
	linkedOrgsSQL string
	//go:embed sql/link_window.sql
	linkWindowSQL string
	//go:embed sql/disconnect_window.sql
	disconnectWindowSQL string
)

// XeroAPI is what linking needs of Xero; *xero.Client implements it.
type XeroAPI interface {
	Connections(ctx context.Context, tokens xero.TokenSource, p xero.ConnectionsParams) ([]xero.Connection, error)
	DeleteConnection(ctx context.Context, tokens xero.TokenSource, p xero.DeleteConnectionParams) error
	Revoke(ctx context.Context, refreshToken string) error
}

// LinksConfig configures Links.
type LinksConfig struct {
	DB     DB
	Store  *TokenStore // over the same database
	Xero   XeroAPI
	Logger *slog.Logger
}

// Links links tenants to Xero organisations and unlinks them.
type Links struct {
	db    DB
	store *TokenStore
	xero  XeroAPI
	log   *slog.Logger
}

// NewLinks checks cfg. It does no I/O.
func NewLinks(cfg LinksConfig) (*Links, error) {
	if cfg.DB == nil || cfg.Store == nil || cfg.Xero == nil {
		return nil, errors.New("tenant links: DB, Store and Xero are required")
	}
	return &Links{db: cfg.DB, store: cfg.Store, xero: cfg.Xero, log: cmp.Or(cfg.Logger, slog.New(slog.DiscardHandler))}, nil
}

// LinkState is what the database says of a tenant before it is linked.
type LinkState struct {
	Name         string    // core.tenants.name
	State        ConnState // "" when never connected
	XeroTenantID string    // the organisation linked now, if any
	OrgName      string
	HasHistory   bool  // entities or outbox rows exist: its Xero links belong to XeroTenantID
	Unfinished   int64 // outbox rows pending, in flight or failed
	// Linked maps each Xero tenant id (lower case) that a Softbooq tenant uses (connected,
	// or auth_failed and waiting for a reconnect) to that tenant, this one included.
	Linked map[string]string
}

// Unused returns the connections of granted that no Softbooq tenant uses, except the one
// whose connection id is keep. A connection belongs to the Xero user and the app, not to one
// grant, so deleting one another tenant relies on would cut that tenant off.
func Unused(granted []xero.Connection, linked map[string]string, keep string) []xero.Connection {
	var out []xero.Connection
	for _, c := range granted {
		if c.ID == keep {
			continue
		}
		if _, used := linked[strings.ToLower(c.TenantID)]; used {
			continue
		}
		out = append(out, c)
	}
	return out
}

// CheckLinkState refuses a tenant whose current organisation is also linked to another
// tenant. Connect never makes that state; it is said rather than silently overwritten.
func CheckLinkState(tenantID string, st LinkState) error {
	if other, ok := st.Linked[strings.ToLower(st.XeroTenantID)]; ok && other != tenantID {
		return fmt.Errorf("tenant %s's organisation is also linked to tenant %s; disconnect one of them first", tenantID, other)
	}
	return nil
}

// LinkKind says what a link did to the tenant's connection.
type LinkKind int

const (
	// LinkedNew: the tenant was never connected, or disconnected; its capture window opens now.
	LinkedNew LinkKind = iota
	// Reconnected: the tenant was auth_failed; its window and queued rows are kept.
	Reconnected
	// Replaced: the tenant was connected; its tokens are replaced, its window kept.
	Replaced
)

// LinkInput is what PlanLink decides from.
type LinkInput struct {
	TenantID string
	Current  LinkState
	Granted  []xero.Connection // the organisations the authorisation granted
	Chosen   xero.Connection   // the one of Granted to link
}

// LinkPlan is what PlanLink decided.
type LinkPlan struct {
	Kind LinkKind
	// KeepsWindow: the capture window stays where it is (link_window.sql applies the same
	// rule in the statement, against the row as it is then).
	KeepsWindow bool
	// Remove are the connections of the authorisation to delete at Xero: those no tenant
	// uses, except the chosen one unless the link is refused.
	Remove []xero.Connection
}

// PlanLink applies the linking rules: one Xero organisation per Softbooq tenant and one
// tenant per organisation; a tenant with rows queued or linked in one organisation does not
// move to another (its Xero links would point into the wrong books); the authorisation's
// other organisations that no tenant uses are removed. A refusal returns the plan too: its
// Remove lists every unused connection, so nothing is left behind at Xero.
func PlanLink(in LinkInput) (LinkPlan, error) {
	cur, chosen := in.Current, in.Chosen
	refuse := func(err error) (LinkPlan, error) {
		return LinkPlan{Remove: Unused(in.Granted, cur.Linked, "")}, err
	}
	if other, ok := cur.Linked[strings.ToLower(chosen.TenantID)]; ok && other != in.TenantID {
		return refuse(fmt.Errorf("the Xero organisation %q is already linked to Softbooq tenant %s (one Xero organisation per tenant); "+
			"disconnect that tenant first (xerosync disconnect --tenant %s) or choose another organisation; nothing was linked",
			chosen.TenantName, other, other))
	}
	if cur.XeroTenantID != "" && !strings.EqualFold(cur.XeroTenantID, chosen.TenantID) && cur.HasHistory {
		// Contact and invoice links (xerosync.entities.xero_id) and queued rows belong to
		// the old organisation; pointing them at another would push into, or look up in,
		// the wrong books.
		return refuse(fmt.Errorf("tenant %s was linked to the Xero organisation %q and has rows queued or linked there; "+
			"moving it to %q is not supported (its Xero links would point into the wrong books); connect it to %q again, "+
			"or choose it with --org; nothing was linked", in.TenantID, cur.OrgName, chosen.TenantName, cur.OrgName))
	}
	p := LinkPlan{Remove: Unused(in.Granted, cur.Linked, chosen.ID)}
	switch cur.State {
	case StateAuthFailed:
		p.Kind, p.KeepsWindow = Reconnected, true
	case StateConnected:
		p.Kind, p.KeepsWindow = Replaced, true
	default:
		p.Kind = LinkedNew
	}
	return p, nil
}

// Removal is the outcome of deleting one connection at Xero. A failure is reported, not
// fatal: the link itself is what matters.
type Removal struct {
	Connection xero.Connection
	Err        error // nil: removed (or already gone)
}

// LinkParams are one link's arguments.
type LinkParams struct {
	TenantID string
	Current  LinkState     // from ReadLinkState, before the authorisation
	Token    *oauth2.Token // from Exchange
	Granted  []xero.Connection
	// Choose picks the organisation to link among Granted (a flag, the only one, or a
	// prompt); its error refuses the link.
	Choose func(granted []xero.Connection) (xero.Connection, error)
}

// LinkResult is what Link did.
type LinkResult struct {
	Chosen  xero.Connection // the linked organisation
	Plan    LinkPlan
	Removed []Removal // in the order of Granted; filled on a refusal too
}

// ReadLinkState reads what PlanLink needs of tenantID and refuses (CheckLinkState) before
// anything is asked of Xero.
func (l *Links) ReadLinkState(ctx context.Context, tenantID string) (LinkState, error) {
	var st LinkState
	var state string
	err := l.db.QueryRow(ctx, linkTenantSQL, tenantID).Scan(&st.Name, &state, &st.XeroTenantID, &st.OrgName, &st.HasHistory, &st.Unfinished)
	if errors.Is(err, pgx.ErrNoRows) {
		return LinkState{}, fmt.Errorf("there is no Softbooq tenant %s (core.tenants); check the id", tenantID)
	}
	if err != nil {
		return LinkState{}, fmt.Errorf("read tenant %s: %w (has `xerosync migrate` been run?)", tenantID, err)
	}
	st.State = ConnState(state)
	if st.Linked, err = l.linkedOrgs(ctx); err != nil {
		return LinkState{}, err
	}
	return st, CheckLinkState(tenantID, st)
}

// Link links p.TenantID to the organisation p.Choose picks, if PlanLink allows it: it opens
// (or keeps) the capture window, saves the token set, and removes the authorisation's
// connections no tenant uses. Refused, it removes those connections and links nothing.
func (l *Links) Link(ctx context.Context, p LinkParams) (LinkResult, error) {
	static := xero.StaticToken(p.Token)
	chosen, err := p.Choose(p.Granted)
	if err != nil {
		// Leave nothing behind at Xero that no tenant uses.
		res := LinkResult{Removed: l.remove(ctx, static, Unused(p.Granted, p.Current.Linked, ""))}
		return res, fmt.Errorf("nothing was linked: %w", err)
	}
	plan, err := PlanLink(LinkInput{TenantID: p.TenantID, Current: p.Current, Granted: p.Granted, Chosen: chosen})
	if err != nil {
		return LinkResult{Plan: plan, Removed: l.remove(ctx, static, plan.Remove)}, err
	}
	if err := OpenWindow(ctx, l.db, p.TenantID); err != nil {
		return LinkResult{}, err
	}
	if err := l.store.Save(ctx, p.TenantID, chosen, p.Token); err != nil {
		return LinkResult{}, err
	}
	l.log.Info("tenant connected to xero", "tenant_id", p.TenantID, "xero_tenant_id", chosen.TenantID, "org", chosen.TenantName)
	// The rest of the consent: organisations the user ticked that no tenant uses.
	return LinkResult{Chosen: chosen, Plan: plan, Removed: l.remove(ctx, static, plan.Remove)}, nil
}

// OpenWindow opens tenantID's capture window just before its token set is saved (a new
// or disconnected tenant's starts at the WAL position of now; a connected or auth_failed
// tenant keeps its own: link_window.sql), creating the connection row if there is none.
// Link calls it; so does a benchmark that connects a tenant without Xero.
func OpenWindow(ctx context.Context, db DB, tenantID string) error {
	if _, err := db.Exec(ctx, linkWindowSQL, tenantID); err != nil {
		return fmt.Errorf("open the capture window: %w", err)
	}
	return nil
}

// remove deletes conns at Xero, one by one; an organisation already gone counts as removed.
func (l *Links) remove(ctx context.Context, tokens xero.TokenSource, conns []xero.Connection) []Removal {
	var out []Removal
	for _, c := range conns {
		err := l.xero.DeleteConnection(ctx, tokens, xero.DeleteConnectionParams{ConnectionID: c.ID, IdempotencyKey: "xerosync-connect-delete-" + c.ID})
		if errors.Is(err, xero.ErrNotFound) {
			err = nil
		}
		out = append(out, Removal{Connection: c, Err: err})
	}
	return out
}

// linkedOrgs maps each Xero tenant id (lower case) in use by a Softbooq tenant to that
// tenant.
func (l *Links) linkedOrgs(ctx context.Context) (map[string]string, error) {
	rows, err := l.db.Query(ctx, linkedOrgsSQL)
	if err != nil {
		return nil, fmt.Errorf("read linked organisations: %w", err)
	}
	out := map[string]string{}
	var org, tenant string
	if _, err := pgx.ForEachRow(rows, []any{&org, &tenant}, func() error {
		out[org] = tenant
		return nil
	}); err != nil {
		return nil, fmt.Errorf("read linked organisations: %w", err)
	}
	return out, nil
}

// RemovalKind is what became of the Xero connection of a tenant being disconnected.
type RemovalKind int

const (
	// RemovalNotTried: the tenant had no connection to remove (not connected, or no id).
	RemovalNotTried RemovalKind = iota
	// RemovalDone: removed at Xero, or already gone.
	RemovalDone
	// RemovalTokensDead: the tokens no longer work (revoked in Xero, expired), so the
	// connection can only be removed in Xero itself.
	RemovalTokensDead
)

// DisconnectInput is what PlanDisconnect decides from.
type DisconnectInput struct {
	TenantID string
	Removal  RemovalKind
	// Granted are the organisations the tenant's Xero user has connected to the app, listed
	// after the removal; nil when unknown (the listing failed or was not made).
	Granted []xero.Connection
	Linked  map[string]string // as LinkState.Linked
}

// DisconnectPlan is what PlanDisconnect decided.
type DisconnectPlan struct {
	// Revoke: revoke the refresh token at Xero before forgetting it.
	Revoke bool
	// SharedWith lists the organisations other tenants use that the same Xero user
	// authorised ("name (tenant ID)"): the reason not to revoke.
	SharedWith []string
}

// ShouldRemoveConnection says whether disconnect removes the tenant's connection at Xero:
// only a connected tenant's tokens can, and only with a known connection id.
func ShouldRemoveConnection(sc StoredConnection) bool {
	return sc.State == StateConnected && sc.XeroConnectionID != ""
}

// PlanDisconnect applies the revoke rule: Xero's revocation removes every connection of the
// Xero user to the app, so when the same user authorised organisations other tenants use,
// revoking would cut them off; the tokens are then only forgotten (unused, they expire at
// Xero in 60 days). Otherwise they are revoked: a token forgotten but not revoked would stay
// alive at Xero for 60 days.
func PlanDisconnect(in DisconnectInput) DisconnectPlan {
	if in.Removal != RemovalDone {
		return DisconnectPlan{Revoke: true}
	}
	var shared []string
	for _, c := range in.Granted {
		if other, ok := in.Linked[strings.ToLower(c.TenantID)]; ok && other != in.TenantID {
			shared = append(shared, fmt.Sprintf("%q (tenant %s)", c.TenantName, other))
		}
	}
	return DisconnectPlan{Revoke: len(shared) == 0, SharedWith: shared}
}

// DisconnectResult is what Disconnect did.
type DisconnectResult struct {
	Removal RemovalKind
	// RemovalErr is why the connection could not be removed (RemovalTokensDead).
	RemovalErr *xero.AuthError
	Plan       DisconnectPlan
}

// Disconnect removes the Xero connection of sc (the tenant's stored connection, not yet
// disconnected), revokes its tokens unless PlanDisconnect says not to, and forgets them,
// closing the capture window in the same transaction: capture never sees a disconnected
// tenant with an open window. The connection is removed with the tokens while they still
// work, and the tokens are forgotten only once Xero has revoked them. A failure to remove
// the connection for another reason than dead tokens changes nothing and is returned. The
// result says what was done, on an error too.
func (l *Links) Disconnect(ctx context.Context, tenantID string, sc StoredConnection) (DisconnectResult, error) {
	var res DisconnectResult
	var in DisconnectInput
	if ShouldRemoveConnection(sc) {
		tokens := l.store.Source(tenantID)
		err := l.xero.DeleteConnection(ctx, tokens, xero.DeleteConnectionParams{
			ConnectionID: sc.XeroConnectionID, IdempotencyKey: "xerosync-disconnect-" + sc.XeroConnectionID,
		})
		var auth *xero.AuthError
		switch {
		case err == nil, errors.Is(err, xero.ErrNotFound):
			res.Removal = RemovalDone
			// Who else this Xero user's grant serves; unknown (an error) means revoke, as
			// before the rule existed.
			conns, cerr := l.xero.Connections(ctx, tokens, xero.ConnectionsParams{})
			if cerr == nil {
				linked, lerr := l.linkedOrgs(ctx)
				if lerr == nil {
					in.Granted, in.Linked = conns, linked
				}
			}
		case errors.As(err, &auth):
			res.Removal, res.RemovalErr = RemovalTokensDead, auth
		default:
			return res, fmt.Errorf("remove the Xero connection to %q: %w; nothing changed, try again", sc.OrgName, err)
		}
	}
	in.TenantID, in.Removal = tenantID, res.Removal
	res.Plan = PlanDisconnect(in)
	var revoke func(ctx context.Context, refreshToken string) error
	if res.Plan.Revoke {
		revoke = l.xero.Revoke
	}
	closeWindow := func(ctx context.Context, tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, disconnectWindowSQL, tenantID); err != nil {
			return fmt.Errorf("close the capture window: %w", err)
		}
		return nil
	}
	if err := l.store.Disconnect(ctx, tenantID, revoke, closeWindow); err != nil {
		return res, err
	}
	l.log.Info("tenant disconnected from xero", "tenant_id", tenantID, "xero_tenant_id", sc.XeroTenantID)
	return res, nil
}
