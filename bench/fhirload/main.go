// Command fhirload benchmarks Concord's clinical store through its FHIR
// API: it imports the Synthea transaction Bundles several times (each copy
// under new server-assigned ids), then reads random created resources by
// id and runs two searches whose answers it knows in advance,
// Observation?patient=X&code=Y and Patient?name=PREFIX&birthdate=DATE,
// checking every answer. It reports import throughput and the server's
// resident memory, and latency percentiles and rates for reads and
// searches, then prints a summary table.
//
//	go run ./bench/fhirload --base http://127.0.0.1:8080/fhir --token $TOKEN \
//	    --synthea ../shared/data/synthea --copies 12 --pid $SERVER_PID
//
// bench/fhir-store.sh starts the server on a fresh database and runs it.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"os/exec"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"time"
)

func main() {
	base := flag.String("base", "http://127.0.0.1:8080/fhir", "FHIR base URL of the server")
	token := flag.String("token", os.Getenv("FHIRLOAD_TOKEN"), "bearer token (default $FHIRLOAD_TOKEN); needs create, read and search on every type")
	dir := flag.String("synthea", "../shared/data/synthea", "directory of the Synthea transaction Bundles (*.json)")
	copies := flag.Int("copies", 12, "how many times each Bundle is posted (each time under new ids)")
	postersFlag := flag.String("posters", "2,4", "concurrent posters; with several counts, copy i uses count i mod n")
	pid := flag.Int("pid", 0, "process id of the server, to sample its memory and CPU (0: not sampled)")
	clients := flag.Int("clients", 16, "concurrent clients reading by id")
	searchClientsFlag := flag.String("search-clients", "1,16", "concurrent clients for each search")
	duration := flag.Duration("duration", 20*time.Second, "measured time of the read load and of each search load")
	warmup := flag.Duration("warmup", 2*time.Second, "unmeasured time before each read and search load")
	label := flag.String("label", "", "name of the backend in the summary (e.g. sqlite)")
	then := flag.String("then", "", "a shell command to run after the loads (e.g. psql … -c ANALYZE), after which the read and search loads run again")
	flag.Parse()
	log.SetFlags(log.Ltime)
	log.SetPrefix("fhirload: ")

	posters, err := ints(*postersFlag)
	if err != nil {
		log.Fatalf("--posters: %v", err)
	}
	searchClients, err := ints(*searchClientsFlag)
	if err != nil {
		log.Fatalf("--search-clients: %v", err)
	}
	if *token == "" {
		log.Fatal("no token: give --token or set FHIRLOAD_TOKEN")
	}
	if *copies < 1 || *clients < 1 {
		log.Fatal("--copies and --clients must be at least 1")
	}
	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt)
	defer cancel()

	bundles, err := loadBundles(*dir)
	if err != nil {
		log.Fatal(err)
	}
	perCopy := 0
	for _, b := range bundles {
		perCopy += b.entries
	}
	log.Printf("%d Bundles, %d resources each copy, all plain POSTs with urn:uuid fullUrls and no ifNoneExist: %d copies should create %d resources",
		len(bundles), perCopy, *copies, perCopy**copies)

	maxConns := max(*clients, slices.Max(searchClients), slices.Max(posters))
	c := newClient(*base, *token, *pid, maxConns)
	if status, body, err := c.get(ctx, "/metadata"); err != nil || status != 200 {
		log.Fatalf("GET %s/metadata: %d %v %.200s", c.base, status, err, body)
	}
	rep := &report{label: *label, pid: *pid, perCopy: perCopy, copies: *copies}

	// Import, sampling the server's memory all along.
	mem := sampleMemory(*pid, 200*time.Millisecond)
	t0 := time.Now()
	imp, l, err := runImport(ctx, &importer{c: c, bundles: bundles}, *copies, posters, log.Printf)
	rep.importWall = time.Since(t0)
	rep.peakRSS, rep.rssSamples = mem.finish()
	rep.imports = imp
	if *pid != 0 {
		rep.endRSS, rep.hwm, _ = procStatus(*pid)
	}
	if err != nil {
		log.Fatal(err)
	}
	refs := l.all()
	rep.stored = len(refs)
	log.Printf("import: %d resources created in %.1fs; server RSS peak %.1f MiB (VmHWM %.1f), at end %.1f MiB",
		len(refs), rep.importWall.Seconds(), mib(rep.peakRSS), mib(rep.hwm), mib(rep.endRSS))
	if len(refs) == 0 {
		log.Fatal("nothing was imported")
	}

	seed := uint64(time.Now().UnixNano())
	obs, pats := observationCases(l), patientCases(l)
	log.Printf("searches: %d Observation?patient&code pairs, %d Patient?name&birthdate pairs", len(obs), len(pats))
	loads := func(suffix string) {
		st := runLoad(ctx, c, "read by id"+suffix, *clients, *warmup, *duration, readOp(c, refs, seed))
		log.Print(st.line())
		rep.loads = append(rep.loads, st)
		for _, n := range searchClients {
			for _, sc := range []struct {
				name  string
				cases []searchCase
			}{{"Observation?patient=X&code=Y", obs}, {"Patient?name=P&birthdate=D", pats}} {
				if len(sc.cases) == 0 {
					log.Printf("%s: no cases", sc.name)
					continue
				}
				st := runLoad(ctx, c, sc.name+suffix, n, *warmup, *duration, searchOp(c, sc.cases, seed+uint64(n)))
				log.Print(st.line())
				rep.loads = append(rep.loads, st)
			}
		}
	}
	loads("")
	if *then != "" {
		log.Printf("running: %s", *then)
		cmd := exec.CommandContext(ctx, "sh", "-c", *then)
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		if err := cmd.Run(); err != nil {
			log.Fatalf("--then: %v", err)
		}
		rep.then = *then
		loads(" (after --then)")
	}
	if *pid != 0 {
		rep.finalRSS, rep.finalHWM, _ = procStatus(*pid)
	}
	rep.print(os.Stdout)
	if rep.failures() > 0 {
		os.Exit(1)
	}
}

// ints parses a comma-separated list of positive integers.
func ints(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			return nil, fmt.Errorf("%q is not a list of positive integers", s)
		}
		out = append(out, n)
	}
	return out, nil
}

func mib(kib int64) float64 { return float64(kib) / 1024 }

// report gathers the figures of one run.
type report struct {
	label                   string
	pid                     int
	perCopy, copies, stored int
	imports                 []*importStats
	importWall              time.Duration
	peakRSS, hwm, endRSS    int64 // KiB
	finalRSS, finalHWM      int64
	rssSamples              int
	loads                   []*loadStats // reads and searches, in order
	then                    string
}

func (s *loadStats) line() string {
	l := fmt.Sprintf("%s, %d clients: %d ok in %.1fs = %.0f/s, p50 %s ms, p90 %s ms, p99 %s ms, max %s ms (server %.2f cores, load %.2f)",
		s.name, s.clients, s.ok, s.elapsed.Seconds(), s.rate(), ms(s.lat.pct(50)), ms(s.lat.pct(90)), ms(s.lat.pct(99)), ms(s.lat.pct(100)),
		s.srvCores, s.loadCores)
	if s.errors > 0 {
		l += fmt.Sprintf("; %d WRONG OR FAILED, first: %s", s.errors, s.firstErr)
	}
	return l
}

func (r *report) failures() int {
	n := 0
	for _, st := range r.imports {
		n += st.failed
	}
	for _, s := range r.loads {
		n += s.errors
	}
	return n
}

// print writes the summary table.
func (r *report) print(w io.Writer) {
	label := r.label
	if label == "" {
		label = "server"
	}
	fmt.Fprintf(w, "\n## fhirload summary: %s, %d copies of %d resources\n\n", label, r.copies, r.perCopy)
	fmt.Fprintf(w, "| phase | clients | count | rate /s | p50 ms | p90 ms | p99 ms | server cores | load cores | wrong |\n")
	fmt.Fprintf(w, "|---|---|---|---|---|---|---|---|---|---|\n")
	total, created := time.Duration(0), 0
	for _, st := range r.imports {
		if st.copies == 0 {
			continue
		}
		total += st.elapsed
		created += st.created
		lat := merge([]latencies{st.lat})
		fmt.Fprintf(w, "| import (%d copies; per Bundle latency) | %d posters | %d resources | %.0f | %s | %s | %s | %.2f | %.2f | %d Bundles |\n",
			st.copies, st.posters, st.created, float64(st.created)/st.elapsed.Seconds(),
			ms(lat.pct(50)), ms(lat.pct(90)), ms(lat.pct(99)), st.srvCores, st.loadCores, st.failed)
	}
	fmt.Fprintf(w, "| import, all | | %d resources | %.0f | | | | | | |\n", created, float64(created)/r.importWall.Seconds())
	for _, s := range r.loads {
		fmt.Fprintf(w, "| %s | %d | %d | %.0f | %s | %s | %s | %.2f | %.2f | %d |\n",
			s.name, s.clients, s.ok, s.rate(), ms(s.lat.pct(50)), ms(s.lat.pct(90)), ms(s.lat.pct(99)),
			s.srvCores, s.loadCores, s.errors)
	}
	fmt.Fprintln(w)
	if r.then != "" {
		fmt.Fprintf(w, "--then: %s\n", r.then)
	}
	fmt.Fprintf(w, "resources stored: %d (created by this run)\n", r.stored)
	if r.pid != 0 {
		fmt.Fprintf(w, "server resident memory during import: peak %.1f MiB (VmRSS, %d samples every 200 ms; VmHWM %.1f MiB), at end of import %.1f MiB; after reads and searches %.1f MiB (VmHWM %.1f MiB)\n",
			mib(r.peakRSS), r.rssSamples, mib(r.hwm), mib(r.endRSS), mib(r.finalRSS), mib(r.finalHWM))
	}
	fmt.Fprintln(w, "server cores: CPU of the concord process only (a PostgreSQL server's own processes are not counted); load cores: this load generator, on the same machine")
	fmt.Fprintln(w, "peers: none run here; the comparison is the published import anchors, Aidbox 2,678 resources/s and HAPI 2,214/s on 8 vCPUs")
	if n := r.failures(); n > 0 {
		fmt.Fprintf(w, "FAILED OR WRONG ANSWERS: %d (see the log above); these figures are not valid\n", n)
	}
}
