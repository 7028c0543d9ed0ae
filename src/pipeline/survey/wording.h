#pragma once
// printf-style formatting into a string, for the reasons and flags in words (the pipeline
// library links no formatting library).
#include <cstdio>
#include <string>

namespace tianyu::pipeline::survey {

template <class... A>
std::string format(const char* f, A... args) {
  char text[512];
  std::snprintf(text, sizeof text, f, args...);
  return text;
}

}  // namespace tianyu::pipeline::survey
