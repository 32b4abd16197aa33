// Command vegeta writes durable task creates as vegeta JSON targets, one a
// line, for an open-loop run at a fixed rate by a generator that is not the
// project's own:
//
//	go run ./testdata/vegeta -token "$(alice token)" -n 120000 > targets.json
//	vegeta attack -format json -targets targets.json -rate 6000/s -duration 20s \
//	  -workers 64 -max-workers 64 -connections 64 -max-connections 64 | vegeta report
//
// against a bot with rate_limit_per_minute: 0. Request i goes to conversation
// i mod 64, and the 64 conversations are replaced every 200 tasks each, as
// in the load tool's writes scenario. The tasks are due in 2099, so they
// never fire.
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"os"
)

type target struct {
	Method string              `json:"method"`
	URL    string              `json:"url"`
	Body   []byte              `json:"body"` // base64, as vegeta reads it
	Header map[string][]string `json:"header"`
}

func main() {
	url := flag.String("url", "http://127.0.0.1:7331", "the server's base `URL`")
	token := flag.String("token", "", "the bot's bearer `token`")
	n := flag.Int("n", 120_000, "how many targets")
	flag.Parse()
	if *token == "" {
		log.Fatal("-token is required (alice token prints it)")
	}
	w := bufio.NewWriter(os.Stdout)
	enc := json.NewEncoder(w)
	header := map[string][]string{"Authorization": {"Bearer " + *token}, "Content-Type": {"application/json"}}
	for i := range *n {
		body := fmt.Sprintf(`{"scope_type":"chat","scope_id":"oc_vegeta_%d_%d","action":"send_text","text":"load","run_at":"2099-01-01T00:00:00Z"}`, i%64, i/(200*64))
		if err := enc.Encode(target{Method: "POST", URL: *url + "/api/v1/automation/tasks", Body: []byte(body), Header: header}); err != nil {
			log.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		log.Fatal(err)
	}
}
