// CaseTable: the projection's cases by their stream, each made once and
// never moved. Internal to projections/.
//
// Every case of the log is here for as long as the projection lives (a
// start files each by its skeleton), so what one costs is what the map of
// cases costs, times the log's cases: 4.9 million at 10M events. As a
// node_hash_map<std::string, Case> a case took a node of its own (its key
// and the Case, 112 bytes from malloc), its stream's characters in another
// (most streams are longer than a string's own buffer) and sometimes its id
// in a third. Here the cases are made in blocks (a Case is 32 bytes: its
// id is a part of its stream), their streams' characters are packed in
// blocks too, and the map holds pointers, keyed by the stream they point
// at: no allocation per case, and about a third of the bytes.
//
// What it does not know: what a case means or which index lists it (the
// projection's), beyond its kind and id (KindOfStream).
//
// Not thread-safe: the projection serialises Make() against readers.
#ifndef EVENHAND_PROJECTIONS_INTERNAL_CASE_TABLE_H_
#define EVENHAND_PROJECTIONS_INTERNAL_CASE_TABLE_H_

#include <cstddef>
#include <memory>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/hash/hash.h"
#include "absl/strings/string_view.h"
#include "projections/fairness_projection.h"

namespace evenhand::projections::internal {

class CaseTable {
 public:
  CaseTable() = default;
  CaseTable(const CaseTable&) = delete;
  CaseTable& operator=(const CaseTable&) = delete;

  // The case of `stream_id`, or nullptr.
  const Case* Find(absl::string_view stream_id) const;
  // The case of `stream_id`, made if there is none (its stream, kind and
  // id set, the rest as a new Case has them); `made` is set to whether it
  // was.
  Case* FindOrMake(absl::string_view stream_id, bool* made);

  // A copy of `s` that lives as long as the table's cases (a name the
  // projection's indexes key by, as a matter).
  absl::string_view Keep(absl::string_view s);

  size_t size() const { return by_stream_.size(); }
  // Forgets every case: pointers to them dangle from now on.
  void Clear();
  // What the table holds, in bytes (its blocks and its map).
  size_t bytes() const;

 private:
  // The map's hash and equality look at a case's stream, so a stream's
  // characters find its case.
  struct Hash {
    using is_transparent = void;
    size_t operator()(absl::string_view s) const { return absl::Hash<absl::string_view>{}(s); }
    size_t operator()(const Case* c) const { return (*this)(c->stream_id()); }
  };
  struct Eq {
    using is_transparent = void;
    static absl::string_view Of(absl::string_view s) { return s; }
    static absl::string_view Of(const Case* c) { return c->stream_id(); }
    template <typename A, typename B>
    bool operator()(const A& a, const B& b) const {
      return Of(a) == Of(b);
    }
  };
  static constexpr size_t kCasesPerBlock = 4096;

  // A new case of `stream_id`, not yet in the map.
  Case* Make(absl::string_view stream_id);
  static constexpr size_t kNameBlockBytes = 64 << 10;

  absl::flat_hash_set<Case*, Hash, Eq> by_stream_;
  std::vector<std::unique_ptr<Case[]>> case_blocks_;
  size_t cases_in_last_block_ = kCasesPerBlock;
  std::vector<std::unique_ptr<char[]>> name_blocks_;
  size_t name_bytes_ = 0;
  size_t name_room_ = 0;
  char* name_next_ = nullptr;
};

}  // namespace evenhand::projections::internal

#endif  // EVENHAND_PROJECTIONS_INTERNAL_CASE_TABLE_H_
