// tianyu-publish: the operator's command line. Today: schema migrations. Publishing processes
// and DAGs arrives with the process-management work.
#include <iostream>

#include <spdlog/spdlog.h>

#include "common/cli.h"
#include "common/db.h"
#include "common/migrations.h"

namespace {

int migrate(const tianyu::Config& config) {
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

int version(const tianyu::Config& config) {
  tianyu::db::Connection db(tianyu::db::settings_from(config.db));
  const auto& known = tianyu::db::embedded_migrations();
  std::cout << "database '" << config.db.name << "' schema version "
            << tianyu::db::schema_version(db) << "; this binary knows up to version "
            << (known.empty() ? 0 : known.back().version) << "\n";
  return tianyu::cli::kOk;
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

  return tianyu::cli::run(app, argc, argv, [&] {
    const auto config = tianyu::cli::load_and_log(options, "tianyu-publish");
    if (*db_migrate) return migrate(config);
    if (*db_version) return version(config);
    return static_cast<int>(tianyu::cli::kUsage);
  });
}
