// tianyu-publish: the operator's command line. Publishes processes (one, or a DAG in one
// transaction), registers sites and groups, reports status, retries failures, migrates the
// schema.
#include <cmath>
#include <fstream>
#include <iostream>

#include <nlohmann/json.hpp>

#include "common/cli.h"
#include "common/db.h"
#include "common/errors.h"
#include "common/migrations.h"
#include "publisher/export.h"
#include "publisher/ingest.h"
#include "publisher/observation_dag.h"
#include "publisher/publisher.h"

namespace {

using tianyu::Config;
using json = nlohmann::json;

tianyu::db::Connection connect(const Config& config) {
  return tianyu::db::Connection(tianyu::db::settings_from(config.db));
}

int migrate(const Config& config) {
  const auto report = tianyu::db::migrate(tianyu::db::settings_from(config.db));
  if (report.applied.empty()) {
    std::cout << "schema of database '" << config.db.name << "' is up to date at version "
              << report.to_version << "\n";
  } else {
    std::cout << "schema of database '" << config.db.name << "' migrated from version "
              << report.from_version << " to " << report.to_version << " (applied:";
    for (const auto& name : report.applied) std::cout << " " << name;
    std::cout << ")\n";
  }
  return tianyu::cli::kOk;
}

int version(const Config& config) {
  auto db = connect(config);
  const auto& known = tianyu::db::embedded_migrations();
  std::cout << "database '" << config.db.name << "' schema version "
            << tianyu::db::schema_version(db) << "; this binary knows up to version "
            << (known.empty() ? 0 : known.back().version) << "\n";
  return tianyu::cli::kOk;
}

json read_json_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw tianyu::InputError(path + ": cannot open");
  try {
    return json::parse(in);
  } catch (const json::parse_error& e) {
    throw tianyu::InputError(path + ": not valid JSON (" + e.what() + ")");
  }
}

void print_status(const json& s) {
  std::cout << "processes: " << s["total"].get<long long>() << "\n";
  for (const auto& [state, n] : s["counts"].items()) {
    if (n.get<long long>() > 0) std::cout << "  " << state << ": " << n << "\n";
  }
  for (const char* section : {"by_group", "by_command"}) {
    std::cout << (std::string(section) == "by_group" ? "per site/group:\n" : "per command:\n");
    for (const auto& [name, counts] : s[section].items()) {
      std::cout << "  " << name << ":";
      for (const auto& [state, n] : counts.items()) std::cout << " " << state << "=" << n;
      std::cout << "\n";
    }
  }
  if (!s["failed"].empty()) {
    std::cout << "failed:\n";
    for (const auto& f : s["failed"]) {
      std::cout << "  " << f["process_id"] << " " << f["command"].get<std::string>() << " ("
                << f["site"].get<std::string>() << "/" << f["group"].get<std::string>()
                << ", attempt " << f["attempt"] << "): " << f["error"].get<std::string>() << "\n";
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Publishes Tianyu processes and manages the pipeline database.",
               "tianyu-publish"};
  tianyu::cli::CommonOptions options;
  tianyu::cli::add_common_options(app, options);
  app.require_subcommand(1);

  auto* db = app.add_subcommand("db", "Database schema operations");
  db->require_subcommand(1);
  auto* db_migrate = db->add_subcommand("migrate", "Apply pending schema migrations (idempotent)");
  auto* db_version = db->add_subcommand("version", "Show the applied schema version");

  std::string site_name, site_root, site_host, group_name;
  auto* site = app.add_subcommand("site", "Register sites");
  site->require_subcommand(1);
  auto* site_add = site->add_subcommand("add", "Register a site (or update its root); idempotent");
  site_add->add_option("name", site_name, "Site name")->required();
  site_add->add_option("--root", site_root, "File-system root of the site")->required();
  site_add->add_option("--host", site_host, "Host address of the site");
  auto* group = app.add_subcommand("group", "Register groups");
  group->require_subcommand(1);
  auto* group_add = group->add_subcommand("add", "Register a group of a site; idempotent");
  group_add->add_option("--site", site_name, "Site of the group")->required();
  group_add->add_option("name", group_name, "Group name")->required();

  tianyu::publisher::ProcessSpec one;
  std::string one_params = "{}";
  std::vector<std::uint64_t> one_deps;
  auto* process = app.add_subcommand("process", "Publish one process; prints its id");
  process->add_option("command", one.command, "Process command (step type)")->required();
  process->add_option("--site", one.site, "Site that must run it")->required();
  process->add_option("--group", one.group, "Group that must run it")->required();
  process->add_option("--params", one_params, "Parameters as a JSON object");
  process->add_option("--depends-on", one_deps, "Existing process ids it waits for");
  process->add_option("--max-attempts", one.max_attempts, "Attempts before it fails for good");

  std::string dag_file;
  auto* dag = app.add_subcommand(
      "dag", "Publish a JSON array of processes in one transaction; prints key -> id as JSON");
  dag->add_option("file", dag_file, "DAG file")->required()->check(CLI::ExistingFile);

  bool status_json = false;
  auto* status = app.add_subcommand("status", "Counts per state, per command, per site/group");
  status->add_flag("--json", status_json, "Machine-readable output");
  std::uint64_t status_observation = 0;
  status->add_option("--observation", status_observation, "Only this observation's processes");

  std::uint64_t retry_id = 0;
  auto* retry = app.add_subcommand("retry", "Re-run a failed process and revive its dependents");
  retry->add_option("process_id", retry_id, "The failed process")->required();

  tianyu::publisher::IngestOptions ingest_options;
  std::string ingest_dir, ingest_kind;
  double ingest_ra = NAN, ingest_dec = NAN;
  bool ingest_json = false;
  auto* ingest = app.add_subcommand(
      "ingest", "Register a directory of raw frames (searched recursively) as an observation; prints a report");
  ingest->add_option("directory", ingest_dir, "Directory of raw FITS frames")->required()->check(CLI::ExistingDirectory);
  ingest->add_option("--site", ingest_options.site, "Site whose root holds the files")->required();
  ingest->add_option("--target", ingest_options.target, "Target (sky) name")->required();
  ingest->add_option("--ra", ingest_ra, "Target RA (degrees, ICRS); else the target's, else the headers' pointing");
  ingest->add_option("--dec", ingest_dec, "Target Dec (degrees, ICRS)");
  ingest->add_option("--observation", ingest_options.observation, "Observation name (default: TARGET-YYYY-MM-DD)");
  ingest->add_flag("--copy", ingest_options.copy, "Copy files from outside the site root into ROOT/raw/OBSERVATION/");
  ingest->add_option("--kind", ingest_kind, "Every frame is this kind (science, bias, dark, flat) whatever IMAGETYP says");
  ingest->add_flag("--json", ingest_json, "Print the report as JSON");

  tianyu::publisher::PipelineOptions pipeline_options;
  std::string photometry_json = "{}", calibration_json = "{}";
  bool pipeline_json = false;
  auto* pipeline = app.add_subcommand("pipeline", "Publish the whole DAG of an observation in one transaction");
  pipeline->add_option("--observation", pipeline_options.observation_id, "Observation id (from ingest)")->required();
  pipeline->add_option("--fan-out", pipeline_options.fan_out, "Frames per stack node (default 8)");
  pipeline->add_option("--group", pipeline_options.group, "Group of every step but stacking (default general)");
  pipeline->add_option("--stack-group", pipeline_options.stack_group, "Group of the stacking steps (default: --group)");
  pipeline->add_option("--max-attempts", pipeline_options.max_attempts, "Attempts per step (default 3)");
  pipeline->add_option("--photometry", photometry_json, "Photometry options as JSON, e.g. {\"radii_fwhm\": [1.5, 2, 3]}");
  pipeline->add_option("--calibration", calibration_json, "Calibration options as JSON, e.g. {\"saturation_adu\": 4095} (default: each frame's SATURATE)");
  pipeline->add_flag("--json", pipeline_json, "Print key -> process id as JSON");

  tianyu::publisher::ExportOptions export_options;
  std::string export_out;
  std::vector<std::string> plot_near;
  auto* exporter = app.add_subcommand("export", "Write an observation's sources and light curves as CSV (and PNG plots)");
  exporter->add_option("--observation", export_options.observation_id, "Observation id")->required();
  exporter->add_option("--out", export_out, "Output directory")->required();
  exporter->add_option("--plot-near", plot_near, "Plot the light curve of the source nearest X,Y (first-frame pixels); repeatable");
  exporter->add_option("--bin", export_options.bin, "Frames per binned point in plots (default 10)");

  return tianyu::cli::run(app, argc, argv, [&] {
    const auto config = tianyu::cli::load_and_log(options, "tianyu-publish");
    if (*db_migrate) return migrate(config);
    if (*db_version) return version(config);
    auto c = connect(config);
    tianyu::ProcessIdGenerator ids;
    if (*site_add) {
      tianyu::publisher::ensure_site(c, site_name, site_root, site_host);
      std::cout << "site '" << site_name << "' root " << site_root << "\n";
    } else if (*group_add) {
      tianyu::publisher::ensure_group(c, site_name, group_name);
      std::cout << "group '" << group_name << "' of site '" << site_name << "'\n";
    } else if (*process) {
      one.key = one.command;
      one.params = json::parse(one_params);
      for (auto d : one_deps) one.depends_on.emplace_back(d);
      std::cout << tianyu::publisher::publish(c, {one}, ids).at(one.key) << "\n";
    } else if (*dag) {
      const auto batch = tianyu::publisher::parse_dag(read_json_file(dag_file), dag_file);
      json out = json::object();
      for (const auto& [key, id] : tianyu::publisher::publish(c, batch, ids)) out[key] = id;
      std::cout << out.dump() << "\n";
    } else if (*status) {
      const auto s = tianyu::publisher::status(c, status_observation);
      if (status_json) {
        std::cout << s.dump() << "\n";
      } else {
        print_status(s);
      }
    } else if (*ingest) {
      ingest_options.directory = ingest_dir;
      if (!std::isnan(ingest_ra)) ingest_options.ra_deg = ingest_ra;
      if (!std::isnan(ingest_dec)) ingest_options.dec_deg = ingest_dec;
      if (!ingest_kind.empty()) ingest_options.kind = ingest_kind;
      const auto report = tianyu::publisher::ingest(c, ingest_options);
      if (ingest_json) {
        std::cout << report.to_json().dump() << "\n";
      } else {
        std::cout << "observation " << report.observation_id << " '" << report.observation << "':";
        for (const auto& [kind, n] : report.added) std::cout << " " << n << " " << kind;
        std::cout << " frames added, " << report.already_ingested << " already ingested, "
                  << report.skipped.size() << " skipped\n";
        for (const auto& p : report.skipped) std::cout << "  skipped " << p.path << ": " << p.error << "\n";
      }
    } else if (*pipeline) {
      pipeline_options.photometry = json::parse(photometry_json);
      pipeline_options.calibration = json::parse(calibration_json);
      const auto batch = tianyu::publisher::observation_dag(c, pipeline_options);
      const auto ids_by_key = tianyu::publisher::publish(c, batch, ids);
      if (pipeline_json) {
        json out = json::object();
        for (const auto& [key, id] : ids_by_key) out[key] = id;
        std::cout << out.dump() << "\n";
      } else {
        std::cout << "observation " << pipeline_options.observation_id << ": published " << ids_by_key.size()
                  << " processes\n";
      }
    } else if (*exporter) {
      export_options.out = export_out;
      for (const auto& p : plot_near) export_options.plot_near.push_back(tianyu::publisher::parse_position(p));
      const auto report = tianyu::publisher::export_observation(c, export_options);
      std::cout << "observation " << export_options.observation_id << ": " << report.sources << " sources, "
                << report.light_curves << " light curves written to " << export_out << "\n";
      for (const auto& p : report.plots) std::cout << "  plot " << p.string() << "\n";
    } else if (*retry) {
      const int revived = tianyu::publisher::retry(c, retry_id);
      std::cout << "process " << retry_id << " is ready again; " << revived
                << " cancelled dependents revived\n";
    }
    return static_cast<int>(tianyu::cli::kOk);
  });
}
