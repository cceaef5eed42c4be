package main

import (
	"slices"
	"testing"

	"github.com/softbooq/xerosync/xero/xerosim"
)

func TestSort429s(t *testing.T) {
	t.Parallel()
	req := func(seq int, tenant string, status int, fault xerosim.FaultKind, problem string) xerosim.RecordedRequest {
		return xerosim.RecordedRequest{Seq: seq, TenantID: tenant, Status: status, Fault: fault, RateLimitProblem: problem}
	}
	for _, tc := range []struct {
		name                  string
		reqs                  []xerosim.RecordedRequest
		injected, burstWindow int
		others                []int // Seq of the 429s not injected
	}{
		{"none", []xerosim.RecordedRequest{req(1, "a", 200, xerosim.FaultNone, "")}, 0, 0, nil},
		{"a burst and the rest of its minute", []xerosim.RecordedRequest{
			req(1, "a", 200, xerosim.FaultNone, ""),
			req(2, "a", 429, xerosim.Fault429, "minute"),
			req(3, "a", 429, xerosim.FaultNone, "minute"),
			req(4, "a", 429, xerosim.FaultNone, "minute"),
			req(5, "a", 200, xerosim.FaultNone, ""),
		}, 1, 2, nil},
		{"a minute 429 after the next counted call is not the burst's", []xerosim.RecordedRequest{
			req(1, "a", 429, xerosim.Fault429, "minute"),
			req(2, "a", 0, xerosim.FaultLostResponse, ""),
			req(3, "a", 429, xerosim.FaultNone, "minute"),
		}, 1, 0, []int{3}},
		{"a 401 is not a counted call", []xerosim.RecordedRequest{
			req(1, "a", 429, xerosim.Fault429, "minute"),
			req(2, "a", 401, xerosim.FaultNone, ""),
			req(3, "a", 429, xerosim.FaultNone, "minute"),
		}, 1, 1, nil},
		{"another organisation's burst explains nothing", []xerosim.RecordedRequest{
			req(1, "a", 429, xerosim.Fault429, "minute"),
			req(2, "b", 429, xerosim.FaultNone, "minute"),
		}, 1, 0, []int{2}},
		{"a concurrent 429 in a burst's minute is not the burst's", []xerosim.RecordedRequest{
			req(1, "a", 429, xerosim.Fault429, "minute"),
			req(2, "a", 429, xerosim.FaultNone, "concurrent"),
		}, 1, 0, []int{2}},
		{"the torture run's: a minute 429 without a burst", []xerosim.RecordedRequest{
			req(64, "a", 0, xerosim.FaultLostResponse, ""),
			req(65, "a", 429, xerosim.FaultNone, "minute"),
		}, 0, 0, []int{65}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tm := sort429s(tc.reqs)
			var others []int
			for _, r := range tm.others {
				others = append(others, r.Seq)
			}
			if tm.injected != tc.injected || tm.burstWindow != tc.burstWindow || !slices.Equal(others, tc.others) {
				t.Errorf("got %d injected, %d in burst windows, others %v; want %d, %d, %v", tm.injected, tm.burstWindow, others, tc.injected, tc.burstWindow, tc.others)
			}
		})
	}
}
