// BoundedReaders: for the findings index (internal/findings_index.h), the
// subjects whose last decision read a name (a case, a matter, a group on a
// matter) only up to an instant, each with that instant: when a fact of
// the name is folded, those whose instant is at or after the fact's are
// decided again. What it does not know: what the names are, or why a
// reader read one (the index and ReportBuilder::Reads).
//
// Names are kept as a 64-bit hash, not as strings: at a million events
// the index held 240,000 such names, which took about 190 bytes each as a
// string and a map of readers per name, and take about 50 here. Two names
// with one hash (a chance of 2^-64 a pair) share their readers, at the
// later instant of the two: a fact of one then also decides the other's
// readers again, which changes nothing (a decision is a function of the
// log as it stands) but takes time. Most names have one reader, held in
// place; a busy matter's thousands are held in a map (kept until its last
// reader goes).
//
// Not thread-safe.
#ifndef EVENHAND_PROJECTIONS_INTERNAL_BOUNDED_READERS_H_
#define EVENHAND_PROJECTIONS_INTERNAL_BOUNDED_READERS_H_

#include <cstdint>
#include <memory>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/inlined_vector.h"
#include "absl/strings/string_view.h"
#include "projections/fairness_projection.h"

namespace evenhand::projections::internal {

class BoundedReaders {
 public:
  // `reader` read `name` up to `until` (the later instant, if it already
  // did).
  void Add(absl::string_view name, const Case* reader, int64_t until);
  // `reader` no longer reads `name`. False if it was not among its readers
  // (a bug in the caller, or the second of two names with one hash).
  bool Remove(absl::string_view name, const Case* reader);
  // Whether any subject reads `name` (or a name with its hash).
  bool Read(absl::string_view name) const { return by_name_.contains(Key(name)); }
  // Appends to `out` the readers of `name` whose instant is at or after
  // `instant`.
  void ReadersFrom(absl::string_view name, int64_t instant, std::vector<const Case*>* out) const;
  bool empty() const { return by_name_.empty(); }
  // Names read (for tests).
  size_t size() const { return by_name_.size(); }

 private:
  // A name's readers held in place up to this many, then in a map.
  static constexpr size_t kInPlace = 16;
  struct Readers {
    absl::InlinedVector<std::pair<const Case*, int64_t>, 1> few;
    std::unique_ptr<absl::flat_hash_map<const Case*, int64_t>> many;
  };
  static uint64_t Key(absl::string_view name);
  absl::flat_hash_map<uint64_t, Readers> by_name_;
};

}  // namespace evenhand::projections::internal

#endif  // EVENHAND_PROJECTIONS_INTERNAL_BOUNDED_READERS_H_
