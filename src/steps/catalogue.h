#pragma once
// Every step the system runs, declared once: its command, what it does, its typed parameters,
// the products and tables it reads and writes (as LSST's pipe_base declares a task's
// connections), and the src/pipeline recipe it runs. The publisher validates a process's params
// against this before anything is written; the consumer reads them back with the same struct;
// the README's step table is generated from it (tests/steps checks they agree).
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "steps/params.h"

namespace tianyu::steps {

struct StepDeclaration {
  std::string command;
  std::string summary;               // what it does, for operators
  std::vector<ParamDoc> params;      // from the params struct
  std::vector<std::string> reads;    // products (by kind, from the processes it depends on) and tables
  std::vector<std::string> writes;   // products (files + image_product rows) and table rows
  std::string recipe;                // the src/pipeline function it runs, "" for diagnostics
  // Parses params strictly (InputError naming the step and the field) and returns them
  // normalised: every field written, defaults included.
  std::function<json(const json&)> normalise;
};

// All declared steps, in pipeline order.
const std::vector<StepDeclaration>& declared_steps();
// The declaration of `command`, or nullptr.
const StepDeclaration* find_step(std::string_view command);
// Validates and normalises a process's params for `command`: InputError for an unknown command
// (naming the known ones) or a bad field.
json normalised_params(std::string_view command, const json& params);
// The README's "Processes" table (markdown), generated from the declarations.
std::string step_table_markdown();

}  // namespace tianyu::steps
