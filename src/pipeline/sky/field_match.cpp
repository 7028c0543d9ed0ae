#include "pipeline/sky/field_match.h"

#include <algorithm>
#include <map>
#include <set>
#include <string>

#include "pipeline/failure.h"
#include "pipeline/sky/sky_tree.h"

namespace tianyu::pipeline::sky {
namespace {

[[noreturn]] void refuse(const std::string& what) { throw Failure("field catalogue match: " + what); }

bool valid_position(double ra, double dec) {
  return std::isfinite(ra) && std::isfinite(dec) && dec >= -90.0 && dec <= 90.0;
}

void check_inputs(const std::vector<FieldSource>& field, const std::vector<NightSource>& night,
                  const MatchOptions& o) {
  if (!(o.radius_arcsec > 0) || !std::isfinite(o.radius_arcsec)) refuse("the radius must be positive");
  if (!(o.ambiguity_ratio >= 1) || !std::isfinite(o.ambiguity_ratio)) refuse("the ambiguity ratio must be >= 1");
  std::set<std::uint32_t> ids;
  for (const auto& f : field) {
    const std::string name = "field source " + std::to_string(f.id);
    if (!ids.insert(f.id).second) refuse(name + " appears twice");
    if (!valid_position(f.ra_deg, f.dec_deg)) refuse(name + " has no valid RA/Dec");
    if (f.nights_seen < 1) refuse(name + " has nights_seen " + std::to_string(f.nights_seen) + " (< 1)");
  }
  ids.clear();
  for (const auto& s : night) {
    const std::string name = "night source " + std::to_string(s.source_id);
    if (!ids.insert(s.source_id).second) refuse(name + " appears twice");
    if (!valid_position(s.ra_deg, s.dec_deg)) refuse(name + " has no valid RA/Dec");
  }
}

// What a night source would take before claims are settled.
struct Tentative {
  bool found = false;  // a field source within the radius
  std::size_t field_index = 0;
  double separation = kNaN;
  std::vector<std::uint32_t> rivals;
};

Tentative tentative_match(const SkyTree& tree, const std::vector<FieldSource>& field, const UnitVector& u,
                          const MatchOptions& o) {
  Tentative t;
  const auto two = tree.nearest(u, 2);
  if (two.empty() || two[0].separation_arcsec > o.radius_arcsec) return t;
  t.found = true;
  t.field_index = two[0].index;
  t.separation = two[0].separation_arcsec;
  const double limit = o.ambiguity_ratio * t.separation;
  if (two.size() < 2 || two[1].separation_arcsec >= limit) return t;
  for (const auto& n : tree.within(u, limit)) {
    if (n.index != t.field_index && n.separation_arcsec < limit) t.rivals.push_back(field[n.index].id);
  }
  return t;
}

void add_night(FieldSource& f, const NightSource& s) {
  const auto old = unit_vector(f.ra_deg, f.dec_deg);
  const auto add = unit_vector(s.ra_deg, s.dec_deg);
  // The stored mean direction times the nights stands for the sum of the nightly unit vectors
  // (its norm differs from the true sum's by ~(scatter in rad)^2, 1e-10 at an arcsecond).
  const double n = f.nights_seen;
  const auto mean = ra_dec({n * old[0] + add[0], n * old[1] + add[1], n * old[2] + add[2]});
  f.ra_deg = mean.ra_deg;
  f.dec_deg = mean.dec_deg;
  if (std::isfinite(s.instrumental_mag)) {
    f.mean_instrumental_mag = std::isfinite(f.mean_instrumental_mag)
                                  ? (n * f.mean_instrumental_mag + s.instrumental_mag) / (n + 1)
                                  : s.instrumental_mag;
  }
  ++f.nights_seen;
}

std::uint32_t first_new_id(const std::vector<FieldSource>& field, const MatchOptions& o) {
  std::uint32_t next = o.next_id;
  for (const auto& f : field) {
    if (f.id >= next && o.next_id != 0) refuse("next_id " + std::to_string(o.next_id) + " is not above field source " + std::to_string(f.id));
    next = std::max(next, f.id + 1);
  }
  return std::max<std::uint32_t>(next, 1);
}

}  // namespace

std::string_view to_string(MatchKind kind) {
  switch (kind) {
    case MatchKind::matched: return "matched";
    case MatchKind::blend: return "blend";
    default: return "new";
  }
}

NightMerge merge_night_into_field(const std::vector<FieldSource>& field, const std::vector<NightSource>& night,
                                  const MatchOptions& options) {
  check_inputs(field, night, options);
  std::vector<UnitVector> points;
  for (const auto& f : field) points.push_back(unit_vector(f.ra_deg, f.dec_deg));
  const SkyTree tree(std::move(points));
  std::vector<Tentative> tentative;
  std::map<std::size_t, std::size_t> winner;  // field index -> night index that keeps it
  for (std::size_t i = 0; i < night.size(); ++i) {
    tentative.push_back(tentative_match(tree, field, unit_vector(night[i].ra_deg, night[i].dec_deg), options));
    const auto& t = tentative.back();
    if (!t.found) continue;
    const auto [it, inserted] = winner.emplace(t.field_index, i);
    if (!inserted && t.separation < tentative[it->second].separation) it->second = i;  // ties: the earlier
  }
  NightMerge out;
  out.field = field;
  out.next_id = first_new_id(field, options);
  for (std::size_t i = 0; i < night.size(); ++i) {
    const auto& t = tentative[i];
    SourceMatch m{night[i].source_id, 0, MatchKind::new_source, kNaN, {}};
    if (t.found && winner.at(t.field_index) == i) {
      m.field_source_id = field[t.field_index].id;
      m.kind = t.rivals.empty() ? MatchKind::matched : MatchKind::blend;
      m.separation_arcsec = t.separation;
      m.blend_with = t.rivals;
      add_night(out.field[t.field_index], night[i]);
    } else {
      if (t.found) {  // lost its nearest field source to a closer night source
        m.kind = MatchKind::blend;
        m.blend_with.push_back(field[t.field_index].id);
        m.blend_with.insert(m.blend_with.end(), t.rivals.begin(), t.rivals.end());
      }
      if (out.next_id == 0) refuse("field source ids exhausted");  // wrapped past 2^32 - 1
      m.field_source_id = out.next_id++;
      out.field.push_back({m.field_source_id, night[i].ra_deg, night[i].dec_deg, 1, night[i].instrumental_mag});
    }
    out.changed_ids.push_back(m.field_source_id);
    out.matches.push_back(std::move(m));
  }
  std::sort(out.changed_ids.begin(), out.changed_ids.end());
  return out;
}

double match_radius_arcsec(double pixel_scale_arcsec, double fwhm_px) {
  if (!std::isfinite(pixel_scale_arcsec) || pixel_scale_arcsec <= 0) {
    refuse("pixel scale " + std::to_string(pixel_scale_arcsec) + " arcsec/px is not positive");
  }
  if (!std::isfinite(fwhm_px) || fwhm_px <= 0) refuse("FWHM " + std::to_string(fwhm_px) + " px is not positive");
  return std::max(kPublishedMatchRadiusArcsec, kMatchRadiusFwhm * fwhm_px * pixel_scale_arcsec);
}

}  // namespace tianyu::pipeline::sky
