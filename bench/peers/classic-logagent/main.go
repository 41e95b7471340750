// classic-logagent: the Go shipper LogAgent replaces, kept as naive as it
// was, for bench/compare only. It follows one file with github.com/hpcloud/tail
// and sends every line on its own with IBM/sarama's SyncProducer
// (RequiredAcks = WaitForAll): one produce request and one round trip per
// line, no key (sarama's hash partitioner then picks a random partition), no
// checkpoint (it always starts at the beginning or the end of the file), and
// a failed send is logged and the line dropped. That is the design being
// replaced; do not tune it.
package main

import (
	"flag"
	"io"
	"log"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/IBM/sarama"
	"github.com/hpcloud/tail"
)

func main() {
	file := flag.String("file", "", "file to follow")
	brokers := flag.String("brokers", "127.0.0.1:9092", "bootstrap brokers, comma-separated")
	topic := flag.String("topic", "", "topic every line is sent to")
	compression := flag.String("compression", "none", "none, gzip, snappy, lz4 or zstd")
	fromBeginning := flag.Bool("from-beginning", true, "start at the beginning of the file (else at its end)")
	flag.Parse()
	if *file == "" || *topic == "" {
		log.Fatal("-file and -topic are required")
	}

	cfg := sarama.NewConfig()
	cfg.ClientID = "classic-logagent"
	cfg.Producer.RequiredAcks = sarama.WaitForAll
	// The SyncProducer needs both to report each message's outcome.
	cfg.Producer.Return.Successes = true
	cfg.Producer.Return.Errors = true
	var codec sarama.CompressionCodec
	if err := codec.UnmarshalText([]byte(*compression)); err != nil {
		log.Fatalf("-compression: %v", err)
	}
	cfg.Producer.Compression = codec

	producer, err := sarama.NewSyncProducer(strings.Split(*brokers, ","), cfg)
	if err != nil {
		log.Fatalf("producer: %v", err)
	}

	whence := io.SeekEnd
	if *fromBeginning {
		whence = io.SeekStart
	}
	t, err := tail.TailFile(*file, tail.Config{
		Follow:   true,
		ReOpen:   true,
		Location: &tail.SeekInfo{Offset: 0, Whence: whence},
		Logger:   tail.DiscardingLogger,
	})
	if err != nil {
		log.Fatalf("tail: %v", err)
	}

	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)
	go func() {
		<-stop
		_ = t.Stop()
	}()

	for line := range t.Lines {
		if line.Err != nil {
			log.Printf("tail: %v", line.Err)
			continue
		}
		if _, _, err := producer.SendMessage(&sarama.ProducerMessage{Topic: *topic, Value: sarama.StringEncoder(line.Text)}); err != nil {
			log.Printf("send: %v", err)
		}
	}
	_ = producer.Close()
}
