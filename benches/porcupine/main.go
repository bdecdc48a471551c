// Times porcupine (github.com/anishathalye/porcupine, through its public API only) on the shared test
// histories, in CPU time, for the side-by-side figures of the checker's issue 24. Our own code: an EDN
// reader for the history files, the etcd cas-register and kv models, and the timing loop. The Rust side
// is `cargo bench -p checker --bench vs_porcupine`; run.sh runs both case by case.
//
//	driver [-dir DIR] [-rounds 3] [-reps 11] [-batch-ms 20] CASE...
//
// A case is `etcd` (every file of DIR/porcupine-etcd, checked one after another), `etcd_NNN`, a kv file
// name (`c01-ok`, ..., `c50-bad`), or the path of an EDN register history (`.../rep-10k-20.edn`, as
// `cargo bench -p checker --bench vs_porcupine -- --write-edn DIR rep-10k-20` writes them; a name ending
// in `-bad` is expected to be invalid, any other valid). One JSON line per case: the median CPU time of one pass over the case
// (over rounds x reps batches; a batch repeats the pass as often as takes about batch-ms of CPU, by a warm calibration), the
// per-round medians, and the verdicts (checked against DIR/expected.txt).
//
// Semantics, the same as the checker's: `fail` ops are dropped (they did not happen); an `info` read is
// dropped (it constrains nothing); an `info` write/cas, or an op still open at the end, gets an unknown
// output and its return after every other event (it may take effect at any point after its call, and
// taking effect at the very end is the same as never). Run with GOMAXPROCS=1 for single-threaded figures.
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"syscall"
	"time"
	"unsafe"

	"github.com/anishathalye/porcupine"
)

// ---- a reader for one-map-per-line EDN histories ----

type ednParser struct {
	s   string
	pos int
}

func (p *ednParser) ws() {
	for p.pos < len(p.s) {
		c := p.s[p.pos]
		if c == ' ' || c == ',' || c == '\t' || c == '\n' || c == '\r' {
			p.pos++
		} else {
			return
		}
	}
}

// value returns nil, int64, string (strings and keywords; keywords keep their colon), []interface{} or
// map[string]interface{} (keys without the colon).
func (p *ednParser) value() (interface{}, error) {
	p.ws()
	if p.pos >= len(p.s) {
		return nil, fmt.Errorf("unexpected end")
	}
	switch c := p.s[p.pos]; {
	case c == '{':
		p.pos++
		m := map[string]interface{}{}
		for {
			p.ws()
			if p.pos < len(p.s) && p.s[p.pos] == '}' {
				p.pos++
				return m, nil
			}
			k, err := p.value()
			if err != nil {
				return nil, err
			}
			v, err := p.value()
			if err != nil {
				return nil, err
			}
			ks, _ := k.(string)
			m[strings.TrimPrefix(ks, ":")] = v
		}
	case c == '[' || c == '(':
		close := byte(']')
		if c == '(' {
			close = ')'
		}
		p.pos++
		var a []interface{}
		for {
			p.ws()
			if p.pos < len(p.s) && p.s[p.pos] == close {
				p.pos++
				return a, nil
			}
			v, err := p.value()
			if err != nil {
				return nil, err
			}
			a = append(a, v)
		}
	case c == '"':
		p.pos++
		var b strings.Builder
		for p.pos < len(p.s) && p.s[p.pos] != '"' {
			if p.s[p.pos] == '\\' && p.pos+1 < len(p.s) {
				p.pos++
				switch p.s[p.pos] {
				case 'n':
					b.WriteByte('\n')
				case 't':
					b.WriteByte('\t')
				default:
					b.WriteByte(p.s[p.pos])
				}
			} else {
				b.WriteByte(p.s[p.pos])
			}
			p.pos++
		}
		p.pos++
		return b.String(), nil
	case c == '-' || (c >= '0' && c <= '9'):
		start := p.pos
		p.pos++
		for p.pos < len(p.s) && p.s[p.pos] >= '0' && p.s[p.pos] <= '9' {
			p.pos++
		}
		var n int64
		_, err := fmt.Sscan(p.s[start:p.pos], &n)
		return n, err
	default:
		start := p.pos
		for p.pos < len(p.s) && !strings.ContainsRune(" ,\t\r\n{}[]()", rune(p.s[p.pos])) {
			p.pos++
		}
		tok := p.s[start:p.pos]
		if tok == "nil" {
			return nil, nil
		}
		return tok, nil
	}
}

// ---- pairing into porcupine events ----

type op struct {
	process  int64
	f        string
	key      string
	value    interface{} // the invocation's value
	output   interface{} // the completion's value
	done     bool        // completed ok
	unknown  bool        // info, or open at the end
	dropped  bool        // fail, or an info read
	retEvent int         // position of the ok completion in the event sequence
}

type history struct {
	name   string
	kv     bool
	events []porcupine.Event
}

func load(path string, kv bool) (history, error) {
	f, err := os.Open(path)
	if err != nil {
		return history{}, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<26)
	var ops []*op
	open := map[int64]*op{}
	// The sequence of calls and ok returns, in file order.
	type ev struct {
		o    *op
		call bool
	}
	var seq []ev
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		p := &ednParser{s: line}
		v, err := p.value()
		if err != nil {
			return history{}, fmt.Errorf("%s: %v", path, err)
		}
		m, ok := v.(map[string]interface{})
		if !ok {
			return history{}, fmt.Errorf("%s: not a map: %s", path, line)
		}
		proc, ok := m["process"].(int64)
		if !ok {
			continue // nemesis
		}
		typ, _ := m["type"].(string)
		fn, _ := m["f"].(string)
		key, _ := m["key"].(string)
		switch typ {
		case ":invoke":
			o := &op{process: proc, f: strings.TrimPrefix(fn, ":"), key: key, value: m["value"]}
			ops = append(ops, o)
			open[proc] = o
			seq = append(seq, ev{o, true})
		case ":ok", ":fail", ":info":
			o := open[proc]
			if o == nil {
				return history{}, fmt.Errorf("%s: completion without invocation: %s", path, line)
			}
			delete(open, proc)
			switch typ {
			case ":ok":
				o.done = true
				o.output = m["value"]
				seq = append(seq, ev{o, false})
			case ":fail":
				o.dropped = true
			default:
				o.unknown = true
			}
		}
	}
	if err := sc.Err(); err != nil {
		return history{}, err
	}
	for _, o := range open {
		o.unknown = true
	}
	for _, o := range ops {
		if o.unknown && (o.f == "read" || o.f == "get") {
			o.dropped = true
		}
	}
	ids := map[*op]int{}
	var events []porcupine.Event
	for _, e := range seq {
		if e.o.dropped {
			continue
		}
		if e.call {
			id := len(ids)
			ids[e.o] = id
			events = append(events, porcupine.Event{ClientId: int(e.o.process), Kind: porcupine.CallEvent, Value: input(e.o, kv), Id: id})
		} else {
			events = append(events, porcupine.Event{ClientId: int(e.o.process), Kind: porcupine.ReturnEvent, Value: output(e.o, kv), Id: ids[e.o]})
		}
	}
	for _, o := range ops {
		if o.unknown && !o.dropped {
			events = append(events, porcupine.Event{ClientId: int(o.process), Kind: porcupine.ReturnEvent, Value: output(o, kv), Id: ids[o]})
		}
	}
	return history{name: filepath.Base(path), kv: kv, events: events}, nil
}

// ---- the etcd cas-register ----

const nilValue = -1 << 62

type regIn struct {
	op   int // 0 read, 1 write, 2 cas
	a, b int
	key  string // partitions histories of several registers
}

type regOut struct {
	unknown bool
	value   int // a read's value (nilValue: nil)
}

func intOf(v interface{}) int {
	if n, ok := v.(int64); ok {
		return int(n)
	}
	return nilValue
}

func regInput(o *op) regIn {
	switch o.f {
	case "read":
		return regIn{op: 0, key: o.key}
	case "write":
		return regIn{op: 1, a: intOf(o.value), key: o.key}
	default:
		a, _ := o.value.([]interface{})
		if len(a) != 2 {
			panic("cas needs [from to]")
		}
		return regIn{op: 2, a: intOf(a[0]), b: intOf(a[1]), key: o.key}
	}
}

// byKey partitions events by the key of their call (keyOf gives a call's key).
func byKey(history []porcupine.Event, keyOf func(interface{}) string) [][]porcupine.Event {
	parts := map[string][]porcupine.Event{}
	callKey := map[int]string{}
	var order []string
	for _, e := range history {
		var k string
		if e.Kind == porcupine.CallEvent {
			k = keyOf(e.Value)
			callKey[e.Id] = k
			if _, ok := parts[k]; !ok {
				order = append(order, k)
			}
		} else {
			k = callKey[e.Id]
		}
		parts[k] = append(parts[k], e)
	}
	out := make([][]porcupine.Event, 0, len(order))
	for _, k := range order {
		out = append(out, parts[k])
	}
	return out
}

var casRegister = porcupine.Model{
	Init: func() interface{} { return nilValue },
	Step: func(state, input, output interface{}) (bool, interface{}) {
		st := state.(int)
		in := input.(regIn)
		out := output.(regOut)
		switch in.op {
		case 0:
			return out.unknown || out.value == st, st
		case 1:
			return true, in.a
		default:
			if st == in.a {
				return true, in.b
			}
			// A failed cas was dropped: every cas left succeeded, or is unknown (then it did nothing).
			return out.unknown, st
		}
	},
	Hash: func(state interface{}) uint64 { return uint64(state.(int)) },
}

// ---- porcupine's kv histories: get/put/append on strings, partitioned by key ----

type kvIn struct {
	op    int // 0 get, 1 put, 2 append
	key   string
	value string
}

type kvOut struct {
	unknown bool
	value   string
}

var kvModel = porcupine.Model{
	PartitionEvent: func(history []porcupine.Event) [][]porcupine.Event {
		return byKey(history, func(v interface{}) string { return v.(kvIn).key })
	},
	Init: func() interface{} { return "" },
	Step: func(state, input, output interface{}) (bool, interface{}) {
		st := state.(string)
		in := input.(kvIn)
		out := output.(kvOut)
		switch in.op {
		case 0:
			return out.unknown || out.value == st, st
		case 1:
			return true, in.value
		default:
			return true, st + in.value
		}
	},
	Hash: func(state interface{}) uint64 {
		// FNV-1a
		h := uint64(14695981039346656037)
		s := state.(string)
		for i := 0; i < len(s); i++ {
			h ^= uint64(s[i])
			h *= 1099511628211
		}
		return h
	},
}

func input(o *op, kv bool) interface{} {
	if !kv {
		return regInput(o)
	}
	s, _ := o.value.(string)
	switch o.f {
	case "get":
		return kvIn{op: 0, key: o.key}
	case "put":
		return kvIn{op: 1, key: o.key, value: s}
	case "append":
		return kvIn{op: 2, key: o.key, value: s}
	}
	panic("unknown kv op " + o.f)
}

func output(o *op, kv bool) interface{} {
	if kv {
		s, _ := o.output.(string)
		return kvOut{unknown: o.unknown, value: s}
	}
	if o.unknown {
		return regOut{unknown: true}
	}
	return regOut{value: intOf(o.output)}
}

// check gives true, false, or nil when the timeout passed first.
func (h history) check(timeout time.Duration) *bool {
	model := casRegister
	if h.kv {
		model = kvModel
	} else {
		// Registers under several keys are independent, as kv keys are.
		model.PartitionEvent = func(history []porcupine.Event) [][]porcupine.Event {
			return byKey(history, func(v interface{}) string { return v.(regIn).key })
		}
	}
	var ok bool
	switch porcupine.CheckEventsTimeout(model, h.events, timeout) {
	case porcupine.Ok:
		ok = true
	case porcupine.Illegal:
		ok = false
	default:
		return nil
	}
	return &ok
}

func peakRSSMiB() float64 {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return float64(ru.Maxrss) / 1024
}

// ---- timing ----

func cpuNanos() int64 {
	var ts syscall.Timespec
	const clockProcessCputimeID = 2
	_, _, errno := syscall.Syscall(syscall.SYS_CLOCK_GETTIME, clockProcessCputimeID, uintptr(unsafe.Pointer(&ts)), 0)
	if errno != 0 {
		panic(errno)
	}
	return ts.Nano()
}

func median(xs []float64) float64 {
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

type result struct {
	Case        string    `json:"case"`
	Checker     string    `json:"checker"`
	Histories   int       `json:"histories"`
	CPUus       float64   `json:"cpu_us"`
	RoundsUs    []float64 `json:"round_medians_us"`
	PerBatch    int       `json:"passes_per_batch"`
	Valid       int       `json:"valid"`
	Unknown     int       `json:"unknown"`
	Mismatches  []string  `json:"verdict_mismatches,omitempty"`
	PeakRSSMiB  float64   `json:"peak_rss_mib"`
	GOMAXPROCS  int       `json:"gomaxprocs"`
	Semantics   string    `json:"fail_semantics"`
	Description string    `json:"description"`
}

func main() {
	dir := flag.String("dir", "/work/shared/histories", "the shared histories")
	rounds := flag.Int("rounds", 3, "rounds")
	reps := flag.Int("reps", 11, "batches per round")
	batchMs := flag.Float64("batch-ms", 20, "CPU milliseconds a batch takes at least")
	timeout := flag.Duration("timeout", 0, "give up on a history after this long (0: never): verdict unknown")
	memMiB := flag.Int("mem-mib", 4096, "give up (verdict unknown, exit 3) when resident memory passes this")
	flag.Parse()
	expected := map[string]bool{}
	if b, err := os.ReadFile(filepath.Join(*dir, "expected.txt")); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			f := strings.Fields(l)
			if len(f) == 2 && !strings.HasPrefix(f[0], "#") {
				expected[filepath.Base(f[0])] = f[1] == "true"
			}
		}
	}
	current := ""
	go watch(*memMiB, &current)
	for _, c := range flag.Args() {
		current = c
		var hs []history
		var desc string
		switch {
		case c == "etcd":
			files, _ := filepath.Glob(filepath.Join(*dir, "porcupine-etcd", "*.edn"))
			sort.Strings(files)
			for _, f := range files {
				h, err := load(f, false)
				if err != nil {
					fmt.Fprintln(os.Stderr, err)
					os.Exit(2)
				}
				hs = append(hs, h)
			}
			desc = "every etcd history, cas-register"
		case strings.HasSuffix(c, ".edn"):
			h, err := load(c, false)
			if err != nil {
				fmt.Fprintln(os.Stderr, err)
				os.Exit(2)
			}
			hs = append(hs, h)
			expected[h.name] = !strings.HasSuffix(h.name, "-bad.edn")
			desc = "generated register history"
		case strings.HasPrefix(c, "etcd_"):
			h, err := load(filepath.Join(*dir, "porcupine-etcd", c+".edn"), false)
			if err != nil {
				fmt.Fprintln(os.Stderr, err)
				os.Exit(2)
			}
			hs = append(hs, h)
			desc = "one etcd history, cas-register"
		default:
			h, err := load(filepath.Join(*dir, "porcupine-kv", c+".edn"), true)
			if err != nil {
				fmt.Fprintln(os.Stderr, err)
				os.Exit(2)
			}
			hs = append(hs, h)
			desc = "kv, partitioned by key"
		}
		pass := func() (valid, unknown int, mismatches []string) {
			for _, h := range hs {
				v := h.check(*timeout)
				if v == nil {
					unknown++
					continue
				}
				if *v {
					valid++
				}
				if want, ok := expected[h.name]; ok && want != *v {
					mismatches = append(mismatches, h.name)
				}
			}
			return
		}
		// A first pass (verdicts; cold caches), then calibration on warm passes: passes per batch so
		// that a batch takes at least batch-ms.
		t0 := cpuNanos()
		valid, unknown, mismatches := pass()
		one := float64(cpuNanos()-t0) / 1e6
		if one < *batchMs {
			warm, n := cpuNanos(), 0
			for n == 0 || float64(cpuNanos()-warm)/1e6 < *batchMs/4 {
				pass()
				n++
			}
			one = float64(cpuNanos()-warm) / 1e6 / float64(n)
		}
		per := 1
		if one < *batchMs {
			per = int(*batchMs/maxf(one, 0.0001)) + 1
		}
		var all, roundMedians []float64
		for r := 0; r < *rounds; r++ {
			runtime.GC()
			var xs []float64
			for i := 0; i < *reps; i++ {
				t := cpuNanos()
				for k := 0; k < per; k++ {
					pass()
				}
				xs = append(xs, float64(cpuNanos()-t)/1e3/float64(per))
			}
			roundMedians = append(roundMedians, median(xs))
			all = append(all, xs...)
		}
		out, _ := json.Marshal(result{
			Case: c, Checker: "porcupine 55508eb", Histories: len(hs), CPUus: median(all),
			RoundsUs: roundMedians, PerBatch: per, Valid: valid, Unknown: unknown, Mismatches: mismatches,
			PeakRSSMiB: peakRSSMiB(),
			GOMAXPROCS: runtime.GOMAXPROCS(0), Description: desc,
			Semantics: "fail ops dropped; info reads dropped; info writes/cas return unknown at the end",
		})
		fmt.Println(string(out))
	}
}

// watch ends the process with an `unknown` line for the current case when its resident memory passes
// limit MiB: porcupine has no memory bound of its own, and some of these histories take tens of GB.
func watch(limit int, current *string) {
	page := int64(os.Getpagesize())
	for {
		time.Sleep(20 * time.Millisecond)
		b, err := os.ReadFile("/proc/self/statm")
		if err != nil {
			continue
		}
		var size, rss int64
		fmt.Sscan(string(b), &size, &rss)
		if rss*page>>20 > int64(limit) {
			out, _ := json.Marshal(map[string]interface{}{
				"case": *current, "checker": "porcupine 55508eb", "histories": 1, "unknown": 1,
				"cpu_us": float64(cpuNanos()) / 1e3, "peak_rss_mib": peakRSSMiB(), "valid": 0,
				"memory_limit_mib": limit, "round_medians_us": []float64{}, "passes_per_batch": 1,
				"description": "memory limit reached",
			})
			fmt.Println(string(out))
			os.Exit(3)
		}
	}
}

func maxf(a, b float64) float64 {
	if a > b {
		return a
	}
	return b
}
