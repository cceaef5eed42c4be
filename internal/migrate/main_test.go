package migrate

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the run if a test leaves a goroutine behind (STYLE 4).
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
