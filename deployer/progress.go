package deployer

import "time"

// Event is one step of progress, reported while Up and Down work; the command renders it as a live line,
// a plain line or JSON.
type Event struct {
	Time    time.Time `json:"time"`
	Kind    string    `json:"kind"` // service, image, network, volume, container
	Name    string    `json:"name"`
	Status  string    `json:"status"`
	Detail  string    `json:"detail,omitempty"`
	Current int64     `json:"current,omitempty"` // bytes done, for pulls
	Total   int64     `json:"total,omitempty"`
	Final   bool      `json:"final,omitempty"` // the name reached its end state for this run
	Failed  bool      `json:"failed,omitempty"`
}

// Statuses reported in Event.Status.
const (
	StatusPulling   = "pulling"
	StatusPulled    = "pulled"
	StatusBuilding  = "building"
	StatusBuilt     = "built"
	StatusPresent   = "present"
	StatusCreating  = "creating"
	StatusCreated   = "created"
	StatusExists    = "exists"
	StatusWaiting   = "waiting"
	StatusStarting  = "starting"
	StatusStarted   = "started"
	StatusHealthy   = "healthy"
	StatusRunning   = "running"
	StatusCompleted = "completed"
	StatusSkipped   = "skipped"
	StatusStopping  = "stopping"
	StatusStopped   = "stopped"
	StatusRemoving  = "removing"
	StatusRemoved   = "removed"
	StatusFailed    = "failed"
	// StatusOrphan is a container of a service no longer in the project, left in place (see Options.RemoveOrphans).
	StatusOrphan = "orphan"
)

// Reporter receives progress events; it must be safe for concurrent use.
type Reporter interface {
	Report(Event)
}

// ReporterFunc adapts a function to Reporter.
type ReporterFunc func(Event)

// Report calls f(e).
func (f ReporterFunc) Report(e Event) { f(e) }

type discard struct{}

func (discard) Report(Event) {}

func report(r Reporter, e Event) {
	if r == nil {
		return
	}
	if e.Time.IsZero() {
		e.Time = time.Now()
	}
	r.Report(e)
}
