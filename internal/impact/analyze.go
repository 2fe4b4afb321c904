package impact

import (
	"bufio"
	"bytes"
	"cmp"
	"errors"
	"io"
	"os"
	"runtime"
	"slices"
	"sync"
	"time"

	"github.com/sentinel-tvm/sentinel-tvm/internal/decisionlog"
	"github.com/sentinel-tvm/sentinel-tvm/internal/policy"
)

// Transitions between a request's two decisions, in report order. A change
// of effect is "OLD->NEW"; with the same effect, an allow for another
// duration is duration_shortened or duration_lengthened; with the same
// effect and duration, another deciding rule (or via) is rule_changed.
const (
	AllowToDeny            = "allow->deny"
	AllowToRequireApproval = "allow->require_approval"
	RequireApprovalToDeny  = "require_approval->deny"
	DenyToAllow            = "deny->allow"
	DenyToRequireApproval  = "deny->require_approval"
	RequireApprovalToAllow = "require_approval->allow"
	DurationShortened      = "duration_shortened"
	DurationLengthened     = "duration_lengthened"
	RuleChanged            = "rule_changed"
)

// TransitionNames lists every transition in report order.
var TransitionNames = []string{AllowToDeny, AllowToRequireApproval, RequireApprovalToDeny, DenyToAllow,
	DenyToRequireApproval, RequireApprovalToAllow, DurationShortened, DurationLengthened, RuleChanged}

// restricting transitions: the new policy gives less than the old one.
var restricting = map[string]bool{AllowToDeny: true, AllowToRequireApproval: true, RequireApprovalToDeny: true, DurationShortened: true}

// Restricting reports whether a transition takes access away or shortens it.
func Restricting(t string) bool { return restricting[t] }

// Classify names the transition from old to new, "" when nothing changed.
// The reason alone changing is no change.
func Classify(old, new Outcome) string {
	switch {
	case old.Decision != new.Decision:
		return old.Decision + "->" + new.Decision
	case new.DurationSeconds < old.DurationSeconds:
		return DurationShortened
	case new.DurationSeconds > old.DurationSeconds:
		return DurationLengthened
	case old.Rule != new.Rule || old.Via != new.Via:
		return RuleChanged
	}
	return ""
}

// Options configure an Analyzer.
type Options struct {
	Proposed *policy.Policy // required
	// Baseline, when set, is what the proposed policy is compared with;
	// without it the recorded decisions are.
	Baseline *policy.Policy
	Top      int // groups and examples kept per transition; default 5
	Workers  int // replay goroutines of ReadFiles; default GOMAXPROCS
	// Stdin is what ReadFiles reads for the path "-"; default os.Stdin.
	Stdin io.Reader
}

// Analyzer replays decision events and collects the report. Add is for one
// goroutine; ReadFiles replays files on every core.
type Analyzer struct {
	opts   Options
	mu     sync.Mutex
	shards []*shard
	single *shard
}

// NewAnalyzer returns an analyzer for opts.
func NewAnalyzer(opts Options) *Analyzer {
	if opts.Top <= 0 {
		opts.Top = 5
	}
	if opts.Workers <= 0 {
		opts.Workers = runtime.GOMAXPROCS(0)
	}
	if opts.Stdin == nil {
		opts.Stdin = os.Stdin
	}
	return &Analyzer{opts: opts}
}

// shard is one goroutine's share of the results, by recorded policy hash.
type shard struct {
	opts     *Options
	proposed replayer
	baseline replayer
	events   int // decision events read
	skipped  int // not replayable
	byHash   map[string]*tally
}

// tally is what the requests recorded under one policy hash gave.
type tally struct {
	latest       time.Time // of the newest event
	latestID     string
	from, to     time.Time
	total        int
	unchanged    int
	transitions  map[string]*transition
	notEvaluable *transition
}

type transition struct {
	count       int
	byRule      map[string]int
	byProfile   map[string]int
	byPrincipal map[string]int
	examples    []Example
}

// Example is one request whose decision changed.
type Example struct {
	Time      time.Time `json:"time"`
	RequestID string    `json:"request_id"`
	Principal string    `json:"principal"`
	User      string    `json:"user,omitempty"`
	Profile   string    `json:"profile"`
	Client    string    `json:"client,omitempty"`
	Before    Outcome   `json:"before"`
	After     Outcome   `json:"after"`
}

func (a *Analyzer) newShard() *shard {
	s := &shard{opts: &a.opts, byHash: map[string]*tally{}, proposed: replayer{p: a.opts.Proposed}, baseline: replayer{p: a.opts.Baseline}}
	a.mu.Lock()
	a.shards = append(a.shards, s)
	a.mu.Unlock()
	return s
}

// Add replays one event.
func (a *Analyzer) Add(e *decisionlog.Event) {
	if a.single == nil {
		a.single = a.newShard()
	}
	a.single.add(e)
}

func (s *shard) add(e *decisionlog.Event) {
	s.events++
	if !e.Replayable() {
		s.skipped++
		return
	}
	t := s.byHash[e.PolicySHA256]
	if t == nil {
		t = &tally{transitions: map[string]*transition{}}
		s.byHash[e.PolicySHA256] = t
	}
	t.widen(e.Time, e.Time, e.Time, e.RequestID)
	t.total++
	var before Outcome
	if s.opts.Baseline != nil {
		var err error
		before, err = s.baseline.replay(e)
		if err != nil {
			before = Outcome{Decision: string(policy.Deny), Rule: policy.DefaultDeny, Reason: err.Error()}
		}
	} else {
		before = Recorded(e)
	}
	after, err := s.proposed.replay(e)
	if err != nil {
		if t.notEvaluable == nil {
			t.notEvaluable = newTransition()
		}
		t.notEvaluable.add(e, before, Outcome{Reason: err.Error()}, err.Error(), s.opts.Top)
		return
	}
	name := Classify(before, after)
	if name == "" {
		t.unchanged++
		return
	}
	tr := t.transitions[name]
	if tr == nil {
		tr = newTransition()
		t.transitions[name] = tr
	}
	rule := after.Rule
	if before.Rule != after.Rule {
		rule = before.Rule + " → " + after.Rule
	}
	tr.add(e, before, after, rule, s.opts.Top)
}

func later(t time.Time, id string, than time.Time, thanID string) bool {
	return t.After(than) || (t.Equal(than) && id > thanID)
}

func newTransition() *transition {
	return &transition{byRule: map[string]int{}, byProfile: map[string]int{}, byPrincipal: map[string]int{}}
}

func (tr *transition) add(e *decisionlog.Event, before, after Outcome, rule string, top int) {
	tr.count++
	tr.byRule[rule]++
	tr.byProfile[e.Profile]++
	tr.byPrincipal[principalKey(e.Principal, e.User)]++
	ex := Example{Time: e.Time, RequestID: e.RequestID, Principal: e.Principal, User: e.User, Profile: e.Profile,
		Client: e.Client, Before: before, After: after}
	tr.examples = keepFirst(tr.examples, top, ex)
}

func principalKey(arn, user string) string {
	if user == "" {
		return arn
	}
	return arn + " (user " + user + ")"
}

// keepFirst adds ex to the n earliest examples (by time, then request ID),
// so that the examples kept do not depend on the order of replay.
func keepFirst(list []Example, n int, ex Example) []Example {
	if len(list) == n && !exampleLess(ex, list[n-1]) {
		return list
	}
	i, _ := slices.BinarySearchFunc(list, ex, exampleCmp)
	list = slices.Insert(list, i, ex)
	if len(list) > n {
		list = list[:n]
	}
	return list
}

func exampleCmp(a, b Example) int {
	if c := a.Time.Compare(b.Time); c != 0 {
		return c
	}
	return cmp.Compare(a.RequestID, b.RequestID)
}

func exampleLess(a, b Example) bool { return exampleCmp(a, b) < 0 }

func (t *transition) merge(o *transition, top int) {
	t.count += o.count
	for k, v := range o.byRule {
		t.byRule[k] += v
	}
	for k, v := range o.byProfile {
		t.byProfile[k] += v
	}
	for k, v := range o.byPrincipal {
		t.byPrincipal[k] += v
	}
	for _, ex := range o.examples {
		t.examples = keepFirst(t.examples, top, ex)
	}
}

// widen stretches t's time span to take in from..to and makes (latest,
// latestID) its latest event when it is later; on a tally with no events
// yet it takes them as they are. Callers count the events after it.
func (t *tally) widen(from, to, latest time.Time, latestID string) {
	if t.total == 0 || from.Before(t.from) {
		t.from = from
	}
	if t.total == 0 || to.After(t.to) {
		t.to = to
	}
	if t.total == 0 || later(latest, latestID, t.latest, t.latestID) {
		t.latest, t.latestID = latest, latestID
	}
}

func (t *tally) merge(o *tally, top int) {
	if o.total == 0 {
		return
	}
	t.widen(o.from, o.to, o.latest, o.latestID)
	t.total += o.total
	t.unchanged += o.unchanged
	for name, tr := range o.transitions {
		if t.transitions[name] == nil {
			t.transitions[name] = newTransition()
		}
		t.transitions[name].merge(tr, top)
	}
	if o.notEvaluable != nil {
		if t.notEvaluable == nil {
			t.notEvaluable = newTransition()
		}
		t.notEvaluable.merge(o.notEvaluable, top)
	}
}

// chunkSize is what ReadFiles hands one worker at a time.
const chunkSize = 1 << 20

// ReadFiles replays every decision event of the files ("-" is standard
// input), JSON lines, on Options.Workers goroutines. Lines that are not
// decision events are skipped.
func (a *Analyzer) ReadFiles(paths []string) error {
	chunks := make(chan []byte, a.opts.Workers*2)
	var wg sync.WaitGroup
	for range a.opts.Workers {
		s := a.newShard()
		wg.Add(1)
		go func() {
			defer wg.Done()
			for c := range chunks {
				s.addLines(c)
				chunkPool.Put(&c)
			}
		}()
	}
	var err error
	for _, p := range paths {
		if err = readChunks(p, a.opts.Stdin, chunks); err != nil {
			break
		}
	}
	close(chunks)
	wg.Wait()
	return err
}

func (s *shard) addLines(c []byte) {
	for len(c) > 0 {
		line := c
		if i := bytes.IndexByte(c, '\n'); i >= 0 {
			line, c = c[:i], c[i+1:]
		} else {
			c = nil
		}
		if e, ok := decisionlog.Parse(line); ok {
			s.add(&e)
		}
	}
}

// chunkPool recycles the chunks the workers are done with.
var chunkPool sync.Pool

// getChunk returns an empty buffer of at least size bytes' capacity.
func getChunk(size int) []byte {
	if b, ok := chunkPool.Get().(*[]byte); ok && cap(*b) >= size {
		return (*b)[:0]
	}
	return make([]byte, 0, size)
}

// maxLine bounds one line, as decisionlog.Read does.
const maxLine = 1 << 20

// readChunks sends the file in chunks that end at a line end.
func readChunks(path string, stdin io.Reader, out chan<- []byte) error {
	f, err := decisionlog.Open(path, stdin)
	if err != nil {
		return err
	}
	defer f.Close()
	br := bufio.NewReaderSize(f, chunkSize)
	var carry []byte
	for {
		buf := getChunk(chunkSize + len(carry))[:len(carry)]
		copy(buf, carry)
		n, err := io.ReadFull(br, buf[len(carry):cap(buf)])
		buf = buf[:len(carry)+n]
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			if len(buf) > 0 {
				out <- buf
			}
			return nil
		}
		if err != nil {
			return &os.PathError{Op: "read", Path: path, Err: err}
		}
		i := bytes.LastIndexByte(buf, '\n')
		if i < 0 {
			if len(buf) > maxLine {
				return &os.PathError{Op: "read", Path: path, Err: errors.New("a line is longer than 1 MiB")}
			}
			carry = buf
			continue
		}
		carry = buf[i+1:]
		out <- buf[:i+1]
	}
}
