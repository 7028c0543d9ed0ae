// tianyu-publish: the operator's command line. Publishes processes (one, or a DAG in one
// transaction), registers sites and groups, reports status, retries failures, migrates the
// schema.
#include <chrono>
#include <cmath>
#include <fstream>
#include <iostream>
#include <thread>

#include <nlohmann/json.hpp>

#include "common/cli.h"
#include "common/db.h"
#include "common/errors.h"
#include "common/migrations.h"
#include "publisher/export.h"
#include "publisher/field_export.h"
#include "publisher/observation_summary.h"
#include "publisher/survey_commands.h"
#include "publisher/ingest.h"
#include "publisher/observation_dag.h"
#include "steps/catalogue.h"
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
  for (const char* part : {"astrometry", "noise"}) {
    if (s.contains(part)) std::cout << part << ": " << s[part]["summary"].get<std::string>() << "\n";
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

// ---- the subcommands: each adds its options, then runs when chosen

struct SiteCommands {
  std::string site_name, site_root, site_host, group_name;
  std::optional<double> latitude, longitude, altitude;  // the site's location (airmass without AIRMASS)
  CLI::App* site_add = nullptr;
  CLI::App* group_add = nullptr;

  void add(CLI::App& app) {
    auto* site = app.add_subcommand("site", "Register sites");
    site->require_subcommand(1);
    site_add = site->add_subcommand("add", "Register a site (or update its root); idempotent");
    site_add->add_option("name", site_name, "Site name")->required();
    site_add->add_option("--root", site_root, "File-system root of the site")->required();
    site_add->add_option("--host", site_host, "Host address of the site");
    auto* lat = site_add->add_option("--lat", latitude, "Site latitude (degrees, north positive)");
    auto* lon = site_add->add_option("--lon", longitude, "Site longitude (degrees, east positive)");
    site_add->add_option("--alt", altitude, "Site altitude (metres; default 0)")->needs(lat);
    lat->needs(lon);
    lon->needs(lat);
    auto* group = app.add_subcommand("group", "Register groups");
    group->require_subcommand(1);
    group_add = group->add_subcommand("add", "Register a group of a site; idempotent");
    group_add->add_option("--site", site_name, "Site of the group")->required();
    group_add->add_option("name", group_name, "Group name")->required();
  }
  bool run(tianyu::db::Connection& c) {
    if (*site_add) {
      tianyu::publisher::ensure_site(c, site_name, site_root, site_host);
      if (latitude) {
        tianyu::publisher::set_site_location(c, site_name, {*latitude, *longitude, altitude.value_or(0.0)});
      }
      std::cout << "site '" << site_name << "' root " << site_root << "\n";
    } else if (*group_add) {
      tianyu::publisher::ensure_group(c, site_name, group_name);
      std::cout << "group '" << group_name << "' of site '" << site_name << "'\n";
    } else {
      return false;
    }
    return true;
  }
};

struct ProcessCommands {
  tianyu::publisher::ProcessSpec one;
  std::string one_params = "{}";
  std::vector<std::uint64_t> one_deps;
  std::string dag_file;
  std::uint64_t retry_id = 0;
  CLI::App* process = nullptr;
  CLI::App* dag = nullptr;
  CLI::App* retry = nullptr;

  void add(CLI::App& app) {
    process = app.add_subcommand("process", "Publish one process; prints its id");
    process->add_option("command", one.command, "Process command (step type)")->required();
    process->add_option("--site", one.site, "Site that must run it")->required();
    process->add_option("--group", one.group, "Group that must run it")->required();
    process->add_option("--params", one_params, "Parameters as a JSON object");
    process->add_option("--depends-on", one_deps, "Existing process ids it waits for");
    process->add_option("--max-attempts", one.max_attempts, "Attempts before it fails for good");
    dag = app.add_subcommand("dag", "Publish a JSON array of processes in one transaction; prints key -> id as JSON");
    dag->add_option("file", dag_file, "DAG file")->required()->check(CLI::ExistingFile);
  }
  void add_retry(CLI::App& app) {
    retry = app.add_subcommand("retry", "Re-run a failed process and revive its dependents");
    retry->add_option("process_id", retry_id, "The failed process")->required();
  }
  bool run(tianyu::db::Connection& c, tianyu::ProcessIdGenerator& ids) {
    if (*process) {
      one.key = one.command;
      one.params = json::parse(one_params);
      for (auto d : one_deps) one.depends_on.emplace_back(d);
      std::cout << tianyu::publisher::publish(c, {one}, ids).at(one.key) << "\n";
    } else if (*dag) {
      const auto batch = tianyu::publisher::parse_dag(read_json_file(dag_file), dag_file);
      json out = json::object();
      for (const auto& [key, id] : tianyu::publisher::publish(c, batch, ids)) out[key] = id;
      std::cout << out.dump() << "\n";
    } else if (*retry) {
      const int revived = tianyu::publisher::retry(c, retry_id);
      std::cout << "process " << retry_id << " is ready again; " << revived << " cancelled dependents revived\n";
    } else {
      return false;
    }
    return true;
  }
};

// Every process of the status has ended (succeeded, failed for good or was cancelled).
bool all_ended(const json& s) {
  const auto& n = s.at("counts");
  return n.value("success", 0) + n.value("failed", 0) + n.value("cancelled", 0) == s.at("total").get<std::int64_t>();
}

struct StatusCommand {
  bool as_json = false;
  std::uint64_t observation = 0;
  double wait_s = 0;
  CLI::App* status = nullptr;

  void add(CLI::App& app) {
    status = app.add_subcommand("status", "Counts per state, per command, per site/group");
    status->add_flag("--json", as_json, "Machine-readable output");
    status->add_option("--observation", observation, "Only this observation's processes");
    status->add_option("--wait", wait_s,
                       "Report as soon as every process has ended, or after this many seconds (the "
                       "database is read five times a second): a progress loop that notices the end at once")
        ->check(CLI::Range(0.0, 3600.0));
  }
  bool run(tianyu::db::Connection& c) {
    if (!*status) return false;
    auto s = tianyu::publisher::status(c, observation);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(wait_s);
    while (!all_ended(s) && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
      s = tianyu::publisher::status(c, observation);
    }
    if (observation != 0) {
      s["astrometry"] = tianyu::publisher::observation_astrometry(c, observation);
      s["noise"] = tianyu::publisher::observation_noise(c, observation);
    }
    if (as_json) {
      std::cout << s.dump() << "\n";
    } else {
      print_status(s);
    }
    return true;
  }
};

// Every step's declaration (src/steps): the README's step table, or JSON for tools.
struct StepsCommand {
  bool as_json = false;
  CLI::App* steps = nullptr;

  void add(CLI::App& app) {
    steps = app.add_subcommand("steps", "The steps a consumer runs: params, reads, writes (README's table)");
    steps->add_flag("--json", as_json, "Machine-readable output");
  }
  bool run() const {
    if (!*steps) return false;
    if (!as_json) {
      std::cout << tianyu::steps::step_table_markdown();
      return true;
    }
    json all = json::array();
    for (const auto& d : tianyu::steps::declared_steps()) {
      json params = json::array();
      for (const auto& p : d.params) {
        params.push_back({{"name", p.name}, {"type", p.type}, {"required", p.required},
                          {"default", p.default_value}, {"doc", p.doc}});
      }
      all.push_back({{"command", d.command}, {"summary", d.summary}, {"params", params}, {"reads", d.reads},
                     {"writes", d.writes}, {"recipe", d.recipe}});
    }
    std::cout << all.dump(2) << "\n";
    return true;
  }
};

// A --calibration option's JSON, refused naming the option when it does not parse.
json parse_option_json(const std::string& text, const std::string& option) {
  try {
    return json::parse(text);
  } catch (const json::parse_error& e) {
    throw tianyu::InputError(option + ": not valid JSON (" + e.what() + ")");
  }
}

void print_ingest_report(const tianyu::publisher::IngestReport& report) {
  std::cout << "observation " << report.observation_id << " '" << report.observation << "':";
  for (const auto& [kind, n] : report.added) std::cout << " " << n << " " << kind;
  std::cout << " frames added, " << report.already_ingested << " already ingested, " << report.skipped.size()
            << " skipped\n";
  for (const auto& p : report.skipped) std::cout << "  skipped " << p.path << ": " << p.error << "\n";
  for (const auto& w : report.warnings) std::cout << "  warning: " << w << "\n";
  if (!report.calibration_change.empty()) std::cout << "  " << report.calibration_change << "\n";
}

struct IngestCommand {
  tianyu::publisher::IngestOptions options;
  std::string dir, kind, calibration;
  double ra = NAN, dec = NAN;
  bool as_json = false;
  CLI::App* ingest = nullptr;

  void add(CLI::App& app) {
    ingest = app.add_subcommand(
        "ingest", "Register a directory of raw frames (searched recursively) as an observation; prints a report");
    ingest->add_option("directory", dir, "Directory of raw FITS frames")->required()->check(CLI::ExistingDirectory);
    ingest->add_option("--site", options.site, "Site whose root holds the files")->required();
    ingest->add_option("--target", options.target, "Target (sky) name")->required();
    ingest->add_option("--ra", ra, "Target RA (degrees, ICRS); else the target's, else the headers' pointing");
    ingest->add_option("--dec", dec, "Target Dec (degrees, ICRS)");
    ingest->add_option("--observation", options.observation, "Observation name (default: TARGET-YYYY-MM-DD)");
    ingest->add_flag("--copy", options.copy, "Copy files from outside the site root into ROOT/raw/OBSERVATION/");
    ingest->add_option("--kind", kind, "Every frame is this kind (science, bias, dark, flat) whatever IMAGETYP says");
    ingest->add_option("--calibration", calibration,
                       "The observation's override of the headers as JSON, e.g. {\"gain_e_per_adu\": 1.3, "
                       "\"read_noise_e\": 5, \"saturation_adu\": 4095} (also exptime_s, filter); replaces the stored one");
    ingest->add_flag("--json", as_json, "Print the report as JSON");
  }
  bool run(tianyu::db::Connection& c) {
    if (!*ingest) return false;
    options.directory = dir;
    if (!std::isnan(ra)) options.ra_deg = ra;
    if (!std::isnan(dec)) options.dec_deg = dec;
    if (!kind.empty()) options.kind = kind;
    if (!calibration.empty()) {
      options.calibration = tianyu::publisher::CalibrationOverride::from_json(parse_option_json(calibration, "--calibration"));
    }
    const auto report = tianyu::publisher::ingest(c, options);
    if (as_json) {
      std::cout << report.to_json().dump() << "\n";
    } else {
      print_ingest_report(report);
    }
    return true;
  }
};

struct PipelineCommand {
  tianyu::publisher::PipelineOptions options;
  std::string photometry = "{}", calibration = "{}", astrometry = "{}", field_match = "{}", field_search;
  bool as_json = false;
  CLI::App* pipeline = nullptr;
  CLI::Option* calibration_option = nullptr;

  void add(CLI::App& app) {
    pipeline = app.add_subcommand("pipeline", "Publish the whole DAG of an observation in one transaction");
    pipeline->add_option("--observation", options.observation_id, "Observation id (from ingest)")->required();
    pipeline->add_option("--fan-out", options.fan_out, "Frames per stack node (default 8)");
    pipeline->add_option("--group", options.group, "Group of every step but stacking (default general)");
    pipeline->add_option("--stack-group", options.stack_group, "Group of the stacking steps (default: --group)");
    pipeline->add_option("--max-attempts", options.max_attempts, "Attempts per step (default 3)");
    pipeline->add_option("--exposure-mode", options.exposure_mode,
                         "long (each frame calibrated), short (frames co-added per minute, each minute a frame of the "
                         "night) or auto (short when the median exposure is at most 1 s; the default)");
    pipeline->add_option("--minute-parts", options.minute_parts,
                         "Short exposures: co-add each minute in this many parts, on as many consumers, then add them "
                         "up (default 1)");
    pipeline->add_option("--photometry", photometry, "Photometry options as JSON, e.g. {\"radii_fwhm\": [1.5, 2, 3]}");
    pipeline->add_option("--astrometry", astrometry,
                         "Astrometry options as JSON, e.g. {\"scale_low_arcsec\": 4, \"scale_high_arcsec\": 6} or "
                         "{\"operator_wcs\": \"wcs/field.hdr\"} (a FITS header file under the site root)");
    pipeline->add_option("--field-match", field_match,
                         "Field catalogue options as JSON, e.g. {\"catalogue_file\": \"catalogues/gaia.csv\", "
                         "\"catalogue_name\": \"gaia-dr3\"}");
    pipeline->add_option("--field-search", field_search,
                         "End the night with the periodic search of its field across all its nights (field_search "
                         "parameters as JSON, e.g. {} or {\"method\": \"bls\"})");
    calibration_option = pipeline->add_option(
        "--calibration", calibration,
        "Calibration options as JSON, e.g. {\"saturation_adu\": 4095} (default: each frame's SATURATE); its "
        "exptime_s, gain_e_per_adu, read_noise_e, saturation_adu and filter also become the observation's override");
    pipeline->add_flag("--json", as_json, "Print key -> process id as JSON");
  }
  bool run(tianyu::db::Connection& c, tianyu::ProcessIdGenerator& ids) {
    if (!*pipeline) return false;
    options.photometry = parse_option_json(photometry, "--photometry");
    options.calibration = parse_option_json(calibration, "--calibration");
    options.astrometry = parse_option_json(astrometry, "--astrometry");
    options.field_match = parse_option_json(field_match, "--field-match");
    if (!field_search.empty()) options.field_search = parse_option_json(field_search, "--field-search");
    if (calibration_option->count() > 0) {
      const auto change = tianyu::publisher::set_calibration_override(c, options.observation_id, options.calibration);
      if (change.changed()) std::cerr << "observation " << options.observation_id << ": " << change.describe() << "\n";
    }
    const auto batch = tianyu::publisher::observation_dag(c, options);
    const auto ids_by_key = tianyu::publisher::publish(c, batch, ids);
    if (as_json) {
      json out = json::object();
      for (const auto& [key, id] : ids_by_key) out[key] = id;
      std::cout << out.dump() << "\n";
    } else {
      std::cout << "observation " << options.observation_id << ": published " << ids_by_key.size() << " processes\n";
    }
    return true;
  }
};

struct ExportCommand {
  tianyu::publisher::ExportOptions options;
  tianyu::publisher::FieldExportOptions field;
  std::string out, cone;
  std::vector<std::string> plot_near;
  CLI::App* exporter = nullptr;

  void add(CLI::App& app) {
    exporter = app.add_subcommand("export", "Write an observation's (or field sources') light curves as CSV and FITS");
    auto* obs = exporter->add_option("--observation", options.observation_id, "Observation id");
    auto* by_field = exporter->add_option("--field", field.field, "Field name or id (with --field-source, or --cone)");
    exporter->add_option("--field-source", field.field_sources, "Field source id (repeatable): its light curve over every night");
    auto* by_cone = exporter->add_option("--cone", cone, "RA,DEC,RADIUS (deg, deg, arcsec): every field source within");
    obs->excludes(by_field)->excludes(by_cone);
    exporter->add_option("--out", out, "Output directory")->required();
    exporter->add_option("--plot-near", plot_near, "Plot the light curve of the source nearest X,Y (first-frame pixels); repeatable");
    exporter->add_option("--bin", options.bin, "Frames per binned point in plots (default 10)");
  }
  bool run(tianyu::db::Connection& c) {
    if (!*exporter) return false;
    if (!field.field.empty() || !cone.empty()) return run_field(c);
    if (options.observation_id == 0) throw tianyu::InputError("export: give --observation, --field or --cone");
    options.out = out;
    for (const auto& p : plot_near) options.plot_near.push_back(tianyu::publisher::parse_position(p));
    const auto report = tianyu::publisher::export_observation(c, options);
    std::cout << "observation " << options.observation_id << ": " << report.sources << " sources, "
              << report.light_curves << " light curves written to " << out << "\n";
    for (const auto& p : report.plots) std::cout << "  plot " << p.string() << "\n";
    if (const auto t = tianyu::publisher::export_template_with_wcs(c, options.observation_id, out)) {
      std::cout << "  template with its WCS " << t->string() << "\n";
    }
    return true;
  }
  bool run_field(tianyu::db::Connection& c) {
    field.out = out;
    if (!cone.empty()) field.cone = tianyu::publisher::parse_cone(cone);
    const auto report = tianyu::publisher::export_field(c, field);
    std::cout << report.sources.size() << " field sources, " << report.points << " light-curve points written to "
              << out << "\n";
    return true;
  }
};

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Publishes Tianyu processes and manages the pipeline database.", "tianyu-publish"};
  tianyu::cli::CommonOptions options;
  tianyu::cli::add_common_options(app, options);
  app.require_subcommand(1);
  auto* db = app.add_subcommand("db", "Database schema operations");
  db->require_subcommand(1);
  auto* db_migrate = db->add_subcommand("migrate", "Apply pending schema migrations (idempotent)");
  auto* db_version = db->add_subcommand("version", "Show the applied schema version");
  SiteCommands sites;
  ProcessCommands processes;
  StatusCommand status;
  IngestCommand ingest;
  PipelineCommand pipeline;
  ExportCommand exporter;
  StepsCommand steps;
  tianyu::publisher::SurveyCommands survey;
  // The order of `add` is the order of --help.
  sites.add(app);
  processes.add(app);
  status.add(app);
  processes.add_retry(app);
  ingest.add(app);
  pipeline.add(app);
  exporter.add(app);
  steps.add(app);
  survey.add(app);

  return tianyu::cli::run(app, argc, argv, [&] {
    if (steps.run()) return static_cast<int>(tianyu::cli::kOk);  // needs no database
    const auto config = tianyu::cli::load_and_log(options, "tianyu-publish");
    if (*db_migrate) return migrate(config);
    if (*db_version) return version(config);
    auto c = connect(config);
    tianyu::ProcessIdGenerator ids;
    sites.run(c) || processes.run(c, ids) || status.run(c) || ingest.run(c) || pipeline.run(c, ids) ||
        exporter.run(c) || survey.run(c, ids, config);
    return static_cast<int>(tianyu::cli::kOk);
  });
}
