package xero

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
)

// Connection is one organisation (tenant) an authorisation reaches, from GET /connections.
type Connection struct {
	ID             string `json:"id"`       // the connection id: what DELETE /connections/{id} takes
	TenantID       string `json:"tenantId"` // the Xero tenant id: what xero-tenant-id carries
	TenantType     string `json:"tenantType"`
	TenantName     string `json:"tenantName"`
	AuthEventID    string `json:"authEventId,omitempty"` // shared by the connections of one consent
	CreatedDateUTC Time   `json:"createdDateUtc,omitzero"`
	UpdatedDateUTC Time   `json:"updatedDateUtc,omitzero"`
}

// ConnectionsParams filters Connections.
type ConnectionsParams struct {
	// AuthEventID, when set, lists only the organisations added by that consent.
	AuthEventID string
}

// Connections lists the organisations tokens reach (GET /connections; no scope beyond a
// valid token, no tenant header, counts only against the app budget).
func (c *Client) Connections(ctx context.Context, tokens TokenSource, p ConnectionsParams) ([]Connection, error) {
	q := url.Values{}
	if p.AuthEventID != "" {
		q.Set("authEventId", p.AuthEventID)
	}
	var out []Connection
	if _, err := c.do(ctx, tokens, call{method: http.MethodGet, url: c.connections, op: "GET /connections", query: q}, &out); err != nil {
		return nil, err
	}
	return out, nil
}

// DeleteConnectionParams are the arguments of DeleteConnection.
type DeleteConnectionParams struct {
	ConnectionID   string // Connection.ID, not the tenant id
	IdempotencyKey string // required like on every write; Xero ignores it on DELETE
}

// DeleteConnection disconnects one organisation from the app (DELETE /connections/{id}).
// A 404 (already gone) is returned as an error matching ErrNotFound, which a disconnect
// flow may treat as success.
func (c *Client) DeleteConnection(ctx context.Context, tokens TokenSource, p DeleteConnectionParams) error {
	if !isGUID(p.ConnectionID) {
		return fmt.Errorf("DELETE /connections: %q is not a connection id: %w", Clip(p.ConnectionID, 40), ErrInvalidRequest)
	}
	_, err := c.do(ctx, tokens, call{
		method: http.MethodDelete, url: c.connections + "/" + p.ConnectionID, op: "DELETE /connections/{id}", key: p.IdempotencyKey,
	}, nil)
	return err
}
