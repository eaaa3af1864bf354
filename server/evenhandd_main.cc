// evenhandd: the Even Hand server.
//
//   evenhandd --listen=127.0.0.1:50051 --data_dir=./data [--config=FILE] [--demo]
//
// SIGTERM or SIGINT stops it gracefully: in-flight appends finish and RocksDB
// is closed cleanly.
#include <signal.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <thread>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_cat.h"
#include "base/log_repeats.h"
#include "base/logging.h"
#include "google/protobuf/util/json_util.h"
#include "server/config_reload.h"
#include "server/grpc_log.h"
#include "server/server.h"

ABSL_FLAG(std::string, listen, "", "host:port to listen on (default 127.0.0.1:50051; port 0 picks a free one)");
ABSL_FLAG(std::string, data_dir, "", "folder of the RocksDB log, created if missing (default ./data)");
ABSL_FLAG(std::string, config, "", "JSON config file with limits etc. (see proto/evenhand/v1/config.proto)");
ABSL_FLAG(bool, demo, false, "load the demo council into an empty log at start-up");
ABSL_FLAG(bool, rebuild_projections, false,
          "discard the fairness projection's checkpoint and refold the whole log at start-up");
ABSL_FLAG(std::string, verify_on_start, "",
          "what the start-up check verifies against the signed checkpoints: tail (the events since "
          "the newest one; the default) or full (every event and every checkpoint)");
ABSL_FLAG(bool, start_new_checkpoint_journal, false,
          "when the log no longer extends its checkpoint journal (rolled back, or lost acknowledged "
          "writes) or the journal is missing: keep the old journal aside and start a new one instead "
          "of refusing to start. A deliberate decision, logged at ERROR");
ABSL_FLAG(bool, print_config, false,
          "print the effective configuration (the config file and flags, every default filled "
          "in) as JSON, and exit without starting");
ABSL_FLAG(std::string, metrics_listen, "",
          "host:port of the HTTP listener for /metrics and /healthz (default 127.0.0.1:9464, or a "
          "free port when --listen's port is 0; \"off\" turns it off)");
ABSL_FLAG(std::string, log_format, "", "log lines as json (the default: one object per line) or text");
ABSL_FLAG(std::string, ready_file, "", "write the listening address to this file once serving (for scripts and tests)");

int main(int argc, char** argv) {
  using namespace evenhand;
  absl::SetProgramUsageMessage(
      "Even Hand server: an append-only, durable event log for member-officer relations.\n"
      "  evenhandd --listen=127.0.0.1:50051 --data_dir=./data [--config=FILE] [--demo]");
  absl::ParseCommandLine(argc, argv);

  // A peer that hangs up while the HTTPS metrics listener writes to it
  // would otherwise end the process (OpenSSL writes with write(2), not
  // send(2) with MSG_NOSIGNAL): the write fails with EPIPE instead.
  ::signal(SIGPIPE, SIG_IGN);
  // A file-size limit (ulimit -f) reached would end the process with no
  // word (outside probe: exit 153 mid-append, nothing logged): the write
  // fails with EFBIG instead, and the log refuses appends saying why, as
  // for any failed write.
  ::signal(SIGXFSZ, SIG_IGN);
  // Block the stop signals in every thread (gRPC's and RocksDB's inherit
  // this mask); one thread waits for them below.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGHUP);  // read the config file again
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  // Lines in the format asked for from the first one, which may be why the
  // config file cannot be read (the file's log.format applies once read).
  logging::SetFormat(absl::GetFlag(FLAGS_log_format) == "text" ? logging::Format::kText
                                                               : logging::Format::kJson);
  server::ServerOptions options;
  if (std::string path = absl::GetFlag(FLAGS_config); !path.empty()) {
    auto config = server::LoadConfigFile(path);
    if (!config.ok()) {
      logging::Error("evenhandd", config.status().message());
      return 2;
    }
    options.config = *config;
  }
  // The flags over the file, at start and when SIGHUP reads it again.
  const auto overrides = [](v1::ServerConfig* config) {
    if (std::string listen = absl::GetFlag(FLAGS_listen); !listen.empty()) {
      config->set_listen(listen);
    }
    if (std::string dir = absl::GetFlag(FLAGS_data_dir); !dir.empty()) {
      config->set_data_dir(dir);
    }
    if (std::string check = absl::GetFlag(FLAGS_verify_on_start); !check.empty()) {
      config->mutable_audit()->set_verify_on_start(check);
    }
    if (std::string metrics = absl::GetFlag(FLAGS_metrics_listen); !metrics.empty()) {
      config->mutable_metrics()->set_listen(metrics);
    }
    if (std::string format = absl::GetFlag(FLAGS_log_format); !format.empty()) {
      config->mutable_log()->set_format(format);
    }
  };
  overrides(&options.config);
  {
    const v1::ServerConfig effective = server::WithDefaults(options.config);
    logging::Format format;
    logging::Severity level;
    if (!logging::ParseFormat(effective.log().format(), &format)) {
      logging::Error("evenhandd", absl::StrCat("log.format: \"", effective.log().format(),
                                               "\" is neither \"json\" nor \"text\""));
      return 2;
    }
    if (!logging::ParseSeverity(effective.log().level(), &level)) {
      logging::Error("evenhandd", absl::StrCat("log.level: \"", effective.log().level(),
                                               "\" is not one of info, warning, error"));
      return 2;
    }
    logging::SetFormat(format);
    logging::SetMinimumSeverity(level);
    logging::SetRepeatWindow(absl::Seconds(effective.log().repeat_seconds()));
    server::RouteGrpcLogs();
  }
  if (absl::GetFlag(FLAGS_print_config)) {
    // Checked as a start checks it before opening anything (and as SIGHUP
    // does), so that a config printed is one evenhandd starts with.
    if (absl::Status s = server::CheckConfig(server::WithDefaults(options.config)); !s.ok()) {
      logging::Error("evenhandd",
                     absl::StrCat("the configuration would not start: ",
                                  absl::StatusCodeToString(s.code()), ": ", s.message()));
      return 1;
    }
    // Every field, defaults included, in the JSON a config file takes
    // (proto/evenhand/v1/config.proto documents each).
    std::string json;
    google::protobuf::util::JsonPrintOptions print;
    print.add_whitespace = true;
    print.always_print_primitive_fields = true;
    print.preserve_proto_field_names = false;
    if (auto s = google::protobuf::util::MessageToJsonString(
            server::WithShownDefaults(options.config), &json, print);
        !s.ok()) {
      logging::Error("evenhandd", s.ToString());
      return 1;
    }
    std::printf("%s", json.c_str());
    return 0;
  }
  options.start_new_checkpoint_journal = absl::GetFlag(FLAGS_start_new_checkpoint_journal);
  options.seed_demo = absl::GetFlag(FLAGS_demo);
  options.rebuild_projections = absl::GetFlag(FLAGS_rebuild_projections);

  auto server = server::EvenHandServer::Start(options);
  if (!server.ok()) {
    logging::Error("evenhandd", absl::StrCat("cannot start: ",
                                             absl::StatusCodeToString(server.status().code()), ": ",
                                             server.status().message()));
    return 1;
  }
  if (std::string ready = absl::GetFlag(FLAGS_ready_file); !ready.empty()) {
    // Written to a temporary name and renamed, so a reader never sees half.
    std::string tmp = ready + ".tmp";
    std::ofstream(tmp) << (*server)->address() << "\n";
    std::rename(tmp.c_str(), ready.c_str());
  }
  std::printf("Even Hand is serving on %s (try: evenhand --server=%s status)%s\n",
              (*server)->address().c_str(), (*server)->address().c_str(),
              (*server)->metrics_url().empty()
                  ? ""
                  : absl::StrCat("; metrics on ", (*server)->metrics_url()).c_str());
  std::fflush(stdout);

  int signal_number = 0;
  v1::ServerConfig running = options.config;
  while (sigwait(&stop_signals, &signal_number) == 0 && signal_number == SIGHUP) {
    server::ReloadConfig(absl::GetFlag(FLAGS_config), overrides, &running, server->get());
  }
  logging::Info("evenhandd", absl::StrCat("received ", signal_number == SIGTERM ? "SIGTERM" : "SIGINT"));
  v1::ServerConfig effective = server::WithDefaults(options.config);
  (*server)->Shutdown(absl::Seconds(effective.shutdown_grace_seconds()));
  // Stopped: the log and the projection's checkpoint are closed and the
  // stream-head map flushed, all synced; the servers' and the fold's
  // threads are joined. What is left is memory (gigabytes for a long log's
  // projection: 9.5 s to free map by map at 10M events, while the data
  // folder's lock was still held and a restart was refused). The kernel
  // takes it back at once with the process, and the lock with it. Without
  // destructors and exit handlers, so no static is torn down under a
  // library thread still parked (gRPC's, RocksDB's pools).
  std::fflush(nullptr);
  std::_Exit(0);
}
