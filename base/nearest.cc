#include "base/nearest.h"

#include <algorithm>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "base/quoted.h"

namespace evenhand {

size_t EditDistance(absl::string_view a, absl::string_view b) {
  // Three rows of the table: the one before last for transpositions.
  std::vector<size_t> before(b.size() + 1), last(b.size() + 1), row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) last[j] = j;
  auto same = [](char x, char y) { return absl::ascii_tolower(x) == absl::ascii_tolower(y); };
  for (size_t i = 1; i <= a.size(); ++i) {
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      row[j] =
          std::min({last[j] + 1, row[j - 1] + 1, last[j - 1] + (same(a[i - 1], b[j - 1]) ? 0 : 1)});
      if (i > 1 && j > 1 && same(a[i - 1], b[j - 2]) && same(a[i - 2], b[j - 1])) {
        row[j] = std::min(row[j], before[j - 2] + 1);
      }
    }
    std::swap(before, last);
    std::swap(last, row);
  }
  return last[b.size()];
}

std::string Nearest(absl::string_view value, const std::vector<std::string>& known) {
  // Known values are names and ids (at most 128 bytes): a much longer value
  // is no typo of one, and comparing it would cost its length each time.
  if (value.size() > 256) return "";
  std::string best;
  size_t best_distance = std::max<size_t>(1, value.size() / 3) + 1;
  for (const std::string& k : known) {
    // The lengths' difference is a lower bound of the distance.
    const size_t gap = value.size() > k.size() ? value.size() - k.size() : k.size() - value.size();
    if (gap >= best_distance) continue;
    const size_t d = EditDistance(value, k);
    if (d < best_distance) {
      best_distance = d;
      best = k;
    }
  }
  if (best.empty() && !value.empty()) {
    const std::string lv = absl::AsciiStrToLower(value);
    for (const std::string& k : known) {
      const std::string lk = absl::AsciiStrToLower(k);
      if (absl::StrContains(lk, lv) || absl::StrContains(lv, lk)) {
        return k;
      }
    }
  }
  return best;
}

std::string UnknownValueMessage(absl::string_view what, absl::string_view value,
                                const std::vector<std::string>& known) {
  const std::string nearest = Nearest(value, known);
  std::vector<std::string> sorted = known;
  std::sort(sorted.begin(), sorted.end());
  return absl::StrCat("unknown ", what, " ", Quoted(value),
                      nearest.empty() ? "" : absl::StrCat("; did you mean \"", nearest, "\"?"),
                      " (known: ", sorted.empty() ? "none yet" : absl::StrJoin(sorted, ", "), ")");
}

}  // namespace evenhand
