package outbox

import (
	"context"
	_ "embed"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/lmittmann/tint"

	"github.com/softbooq/xerosync/xero"
)

var (
	//go:embed sql/budget_load.sql
	budgetLoadSQL string
	//go:embed sql/budget_save.sql
	budgetSaveSQL string
)

// budgetSave is how often the Xero budgets are saved (issue #12). The client admits at most
// xero.DefaultUnsavedCalls per organisation beyond the last save, so this is also how long
// a lane that made that many calls within it may wait: a second is short beside a minute
// of 60 calls.
const budgetSave = time.Second

// loadBudgets restores the budgets the previous process saved into the client, before any
// call: what it spent of this minute and this day is then not spent again.
func (d *Dispatcher) loadBudgets(ctx context.Context) error {
	rows, err := d.cfg.DB.Query(ctx, budgetLoadSQL)
	if err != nil {
		return fmt.Errorf("load xero budgets: %w", err)
	}
	var states []xero.BudgetState
	var s xero.BudgetState
	var minuteReset, dayReset *time.Time
	var tokens *float64
	var daySeen *int
	paced := map[string]pacer{}
	if _, err := pgx.ForEachRow(rows, []any{&s.XeroTenantID, &s.MinuteRemaining, &minuteReset,
		&s.DayRemaining, &dayReset, &s.DayResetExact, &s.DayLimit, &s.SavedAt, &tokens, &daySeen}, func() error {
		if minuteReset != nil {
			s.MinuteResetAt = *minuteReset
		}
		if dayReset != nil {
			s.DayResetAt = *dayReset
		}
		if tokens != nil && daySeen != nil {
			// The bucket goes on from where it was saved: decide refills it for the time
			// since and charges what was spent since (the unsaved calls).
			paced[s.XeroTenantID] = pacer{tokens: *tokens, last: s.SavedAt, lastR: *daySeen}
		}
		states = append(states, s)
		s, minuteReset, dayReset, tokens, daySeen = xero.BudgetState{}, nil, nil, nil, nil
		return nil
	}); err != nil {
		return fmt.Errorf("load xero budgets: %w", err)
	}
	d.cfg.Xero.RestoreBudgets(states)
	d.mu.Lock()
	d.paced = paced
	d.mu.Unlock()
	return nil
}

// saveBudgets writes what the client knows of the budgets, and why each lane waits, if it
// waits on budget. Only after the write commits may the client admit further calls.
func (d *Dispatcher) saveBudgets(ctx context.Context) error {
	states, saved := d.cfg.Xero.SaveBudgets()
	waiting, paced := d.laneStates()
	n := len(states)
	ids, mr, dr, dl := make([]string, n), make([]int32, n), make([]int32, n), make([]int32, n)
	mt, dt, de, w := make([]time.Time, n), make([]time.Time, n), make([]bool, n), make([]string, n)
	pt, ps := make([]float64, n), make([]int32, n)
	for i, s := range states {
		ids[i], mr[i], mt[i] = s.XeroTenantID, int32(s.MinuteRemaining), s.MinuteResetAt
		dr[i], dt[i], de[i], dl[i] = int32(s.DayRemaining), s.DayResetAt, s.DayResetExact, int32(s.DayLimit)
		w[i] = waiting[s.XeroTenantID]
		ps[i] = -1
		if p, ok := paced[s.XeroTenantID]; ok && !p.last.IsZero() {
			pt[i], ps[i] = p.tokens, int32(p.lastR)
		}
	}
	if _, err := d.cfg.DB.Exec(ctx, budgetSaveSQL, ids, mr, mt, dr, dt, de, dl, w, d.now(), pt, ps); err != nil {
		return fmt.Errorf("save xero budgets: %w", err)
	}
	saved()
	return nil
}

// keepBudgets saves the budgets every budgetSave, and at once when calls wait for a save,
// until ctx ends (Run saves once more after the lanes end).
func (d *Dispatcher) keepBudgets(ctx context.Context) {
	t := time.NewTicker(budgetSave)
	defer t.Stop()
	failing := false
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-d.cfg.Xero.BudgetSaveWanted():
		}
		// Bounded like an outcome's write: a budget row an operator's transaction holds
		// must show as a failing save (and its warning), not hang every lane silently.
		sctx, cancel := context.WithTimeout(ctx, d.cfg.RecordTimeout)
		err := d.saveBudgets(sctx)
		cancel()
		switch {
		case err != nil && !failing && ctx.Err() == nil:
			// Calls beyond the bound wait meanwhile: spending budget that a restart could
			// not know of would be the 429s this is here to prevent.
			d.log.Warn("save xero budgets; calls wait until it works again", tint.Err(err))
			failing = true
		case err == nil && failing:
			d.log.Info("xero budgets saved again")
			failing = false
		}
	}
}
