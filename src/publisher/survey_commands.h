#pragma once
// tianyu-publish's survey commands, kept out of main.cpp so the survey's command line grows in
// its own file:
//   search --field F            publishes the field_search step of field F (id or name)
//   candidates --field F        the field's ranked periodic candidates (--json)
//   alerts [--follow]           the alert rows, or the messages of tianyu.alerts as they come
//   aavso --observation O --source S --out FILE   the night's AAVSO Exoplanet Database report
#include <cstdint>
#include <string>

#include <CLI/CLI.hpp>

#include "common/config.h"
#include "common/db.h"
#include "common/process_id.h"

namespace tianyu::publisher {

struct SurveyCommands {
  void add(CLI::App& app);
  // True when one of them was chosen (and has run).
  bool run(db::Connection& c, ProcessIdGenerator& ids, const Config& config);

 private:
  CLI::App* search_ = nullptr;
  CLI::App* candidates_ = nullptr;
  CLI::App* alerts_ = nullptr;
  CLI::App* aavso_ = nullptr;
  std::string field_;
  std::string group_ = "general";
  std::string params_;
  int max_attempts_ = 3;
  bool json_ = false;
  int limit_ = 20;
  bool follow_ = false;
  bool xml_ = false;
  int count_ = 0;
  double timeout_s_ = 0;
  std::uint64_t observation_ = 0, source_ = 0;
  std::string out_, obscode_;
};

}  // namespace tianyu::publisher
