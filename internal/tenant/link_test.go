package tenant

import (
	"slices"
	"strings"
	"testing"

	"github.com/softbooq/xerosync/xero"
)

// The linking and revoke rules, without PostgreSQL or Xero: the commands' CLI tests
// (daemon/connect_test.go) cover the I/O around them.

const (
	tenantA = "11111111-1111-4111-8111-111111111111"
	tenantB = "22222222-2222-4222-8222-222222222222"
	orgAcme = "aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa"
	orgBeta = "bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb"
	orgCorp = "cccccccc-cccc-4ccc-8ccc-cccccccccccc"
)

var (
	connAcme = xero.Connection{ID: "c0000000-0000-4000-8000-00000000000a", TenantID: orgAcme, TenantName: "Acme Ltd"}
	connBeta = xero.Connection{ID: "c0000000-0000-4000-8000-00000000000b", TenantID: orgBeta, TenantName: "Beta Ltd"}
	connCorp = xero.Connection{ID: "c0000000-0000-4000-8000-00000000000c", TenantID: orgCorp, TenantName: "Corp Ltd"}
)

func names(conns []xero.Connection) []string {
	out := []string{}
	for _, c := range conns {
		out = append(out, c.TenantName)
	}
	return out
}

func TestPlanLink(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		cur     LinkState
		granted []xero.Connection
		chosen  xero.Connection
		wantErr string // substring; "" for a link
		kind    LinkKind
		keeps   bool
		remove  []string
	}{
		{
			name: "new tenant", granted: []xero.Connection{connAcme}, chosen: connAcme,
			kind: LinkedNew, remove: []string{},
		},
		{
			name: "new tenant, the consent ticked two unused organisations", granted: []xero.Connection{connAcme, connBeta, connCorp}, chosen: connBeta,
			kind: LinkedNew, remove: []string{"Acme Ltd", "Corp Ltd"},
		},
		{
			name:    "same organisation again, connected: tokens replaced, window kept",
			cur:     LinkState{State: StateConnected, XeroTenantID: orgAcme, OrgName: "Acme Ltd", HasHistory: true, Linked: map[string]string{orgAcme: tenantA}},
			granted: []xero.Connection{connAcme}, chosen: connAcme,
			kind: Replaced, keeps: true, remove: []string{},
		},
		{
			name:    "same organisation in upper case is the same organisation",
			cur:     LinkState{State: StateConnected, XeroTenantID: strings.ToUpper(orgAcme), OrgName: "Acme Ltd", HasHistory: true, Linked: map[string]string{orgAcme: tenantA}},
			granted: []xero.Connection{connAcme}, chosen: connAcme,
			kind: Replaced, keeps: true, remove: []string{},
		},
		{
			name:    "auth_failed tenant reconnecting keeps its window",
			cur:     LinkState{State: StateAuthFailed, XeroTenantID: orgAcme, OrgName: "Acme Ltd", HasHistory: true, Unfinished: 3, Linked: map[string]string{orgAcme: tenantA}},
			granted: []xero.Connection{connAcme}, chosen: connAcme,
			kind: Reconnected, keeps: true, remove: []string{},
		},
		{
			name:    "disconnected tenant linking again opens a new window",
			cur:     LinkState{State: StateDisconnected, XeroTenantID: orgAcme, OrgName: "Acme Ltd", HasHistory: true, Linked: map[string]string{}},
			granted: []xero.Connection{connAcme}, chosen: connAcme,
			kind: LinkedNew, remove: []string{},
		},
		{
			name:    "organisation held by another tenant",
			cur:     LinkState{Linked: map[string]string{orgAcme: tenantB}},
			granted: []xero.Connection{connAcme, connCorp}, chosen: connAcme,
			wantErr: `the Xero organisation "Acme Ltd" is already linked to Softbooq tenant ` + tenantB, remove: []string{"Corp Ltd"},
		},
		{
			name:    "move refused once the tenant has history",
			cur:     LinkState{State: StateConnected, XeroTenantID: orgAcme, OrgName: "Acme Ltd", HasHistory: true, Linked: map[string]string{orgAcme: tenantA}},
			granted: []xero.Connection{connBeta}, chosen: connBeta,
			wantErr: `moving it to "Beta Ltd" is not supported`, remove: []string{"Beta Ltd"},
		},
		{
			name:    "move refused for a disconnected tenant with history too",
			cur:     LinkState{State: StateDisconnected, XeroTenantID: orgAcme, OrgName: "Acme Ltd", HasHistory: true, Linked: map[string]string{}},
			granted: []xero.Connection{connAcme, connBeta}, chosen: connBeta,
			wantErr: `was linked to the Xero organisation "Acme Ltd"`, remove: []string{"Acme Ltd", "Beta Ltd"},
		},
		{
			name:    "move allowed without history",
			cur:     LinkState{State: StateConnected, XeroTenantID: orgAcme, OrgName: "Acme Ltd", Linked: map[string]string{orgAcme: tenantA}},
			granted: []xero.Connection{connAcme, connBeta}, chosen: connBeta,
			kind: Replaced, keeps: true, remove: []string{},
		},
		{
			name:    "connections another tenant uses are kept, unused ones removed",
			cur:     LinkState{Linked: map[string]string{orgBeta: tenantB}},
			granted: []xero.Connection{connAcme, connBeta, connCorp}, chosen: connAcme,
			kind: LinkedNew, remove: []string{"Corp Ltd"},
		},
		{
			name:    "a refusal keeps the connections other tenants use",
			cur:     LinkState{Linked: map[string]string{orgAcme: tenantB, orgBeta: tenantB}},
			granted: []xero.Connection{connAcme, connBeta, connCorp}, chosen: connAcme,
			wantErr: "already linked", remove: []string{"Corp Ltd"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			plan, err := PlanLink(LinkInput{TenantID: tenantA, Current: tc.cur, Granted: tc.granted, Chosen: tc.chosen})
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("err = %v, want %q", err, tc.wantErr)
			case tc.wantErr != "" && !strings.HasSuffix(err.Error(), "nothing was linked"):
				t.Errorf("a refusal must say nothing was linked: %v", err)
			}
			if got := names(plan.Remove); !slices.Equal(got, tc.remove) {
				t.Errorf("remove %v, want %v", got, tc.remove)
			}
			if tc.wantErr == "" && (plan.Kind != tc.kind || plan.KeepsWindow != tc.keeps) {
				t.Errorf("kind %v keeps window %v, want %v %v", plan.Kind, plan.KeepsWindow, tc.kind, tc.keeps)
			}
		})
	}
}

func TestCheckLinkState(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		st      LinkState
		wantErr bool
	}{
		{"never connected", LinkState{Linked: map[string]string{orgAcme: tenantB}}, false},
		{"linked to its own organisation", LinkState{XeroTenantID: orgAcme, Linked: map[string]string{orgAcme: tenantA}}, false},
		{"its organisation also linked to another tenant", LinkState{XeroTenantID: strings.ToUpper(orgAcme), Linked: map[string]string{orgAcme: tenantB}}, true},
	} {
		err := CheckLinkState(tenantA, tc.st)
		if (err != nil) != tc.wantErr {
			t.Errorf("%s: err = %v", tc.name, err)
		}
	}
}

func TestShouldRemoveConnection(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		sc   StoredConnection
		want bool
	}{
		{StoredConnection{State: StateConnected, XeroConnectionID: connAcme.ID}, true},
		{StoredConnection{State: StateConnected}, false},
		{StoredConnection{State: StateAuthFailed, XeroConnectionID: connAcme.ID}, false},
		{StoredConnection{State: StateDisconnected, XeroConnectionID: connAcme.ID}, false},
	} {
		if got := ShouldRemoveConnection(tc.sc); got != tc.want {
			t.Errorf("%+v: %v, want %v", tc.sc, got, tc.want)
		}
	}
}

func TestPlanDisconnect(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		in     DisconnectInput
		revoke bool
		shared []string
	}{
		{
			name: "removed, the user's grant serves only this tenant: revoke",
			in: DisconnectInput{Removal: RemovalDone, Granted: []xero.Connection{connAcme},
				Linked: map[string]string{orgAcme: tenantA}},
			revoke: true,
		},
		{
			name: "removed, the same user authorised an organisation another tenant uses: do not revoke",
			in: DisconnectInput{Removal: RemovalDone, Granted: []xero.Connection{connAcme, connBeta, connCorp},
				Linked: map[string]string{orgAcme: tenantA, orgBeta: tenantB}},
			shared: []string{`"Beta Ltd" (tenant ` + tenantB + `)`},
		},
		{
			name:   "removed, the listing failed (unknown): revoke",
			in:     DisconnectInput{Removal: RemovalDone},
			revoke: true,
		},
		{
			name: "removed, other organisations granted but unused: revoke",
			in: DisconnectInput{Removal: RemovalDone, Granted: []xero.Connection{connBeta, connCorp},
				Linked: map[string]string{}},
			revoke: true,
		},
		{
			name: "tokens dead: revoke (a formality)",
			in: DisconnectInput{Removal: RemovalTokensDead, Granted: []xero.Connection{connBeta},
				Linked: map[string]string{orgBeta: tenantB}},
			revoke: true,
		},
		{
			name:   "auth_failed, nothing removed: revoke",
			in:     DisconnectInput{Removal: RemovalNotTried},
			revoke: true,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.in.TenantID = tenantA
			p := PlanDisconnect(tc.in)
			if p.Revoke != tc.revoke || !slices.Equal(p.SharedWith, tc.shared) {
				t.Errorf("got %+v, want revoke %v shared %v", p, tc.revoke, tc.shared)
			}
		})
	}
}

func TestUnused(t *testing.T) {
	t.Parallel()
	granted := []xero.Connection{connAcme, connBeta, connCorp}
	linked := map[string]string{strings.ToLower(orgBeta): tenantB}
	if got := names(Unused(granted, linked, connAcme.ID)); !slices.Equal(got, []string{"Corp Ltd"}) {
		t.Errorf("keep Acme: %v", got)
	}
	if got := names(Unused(granted, linked, "")); !slices.Equal(got, []string{"Acme Ltd", "Corp Ltd"}) {
		t.Errorf("keep none: %v", got)
	}
}
