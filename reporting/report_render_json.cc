// RenderReportJson (reporting/report_render.h): the report in protobuf's
// JSON mapping, printed a list element at a time.
#include <algorithm>
#include <functional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "google/protobuf/field_mask.pb.h"
#include "google/protobuf/util/field_mask_util.h"
#include "google/protobuf/util/json_util.h"
#include "reporting/report_render.h"

namespace evenhand::reporting {

std::string RenderReportJson(const v1::FairnessReport& r) {
  return RenderReportJson(r, [] { return true; });
}

std::string RenderReportJson(const v1::FairnessReport& r, const std::function<bool()>& keep_going) {
  namespace pb = google::protobuf;
  pb::util::JsonPrintOptions options;
  options.add_whitespace = true;
  options.always_print_primitive_fields = true;
  // Protobuf's printer, asked for every field, builds a tree of the whole
  // message before it writes a byte (its DefaultValueObjectWriter): for a
  // report of 100,000 findings, seconds and a few hundred MB of small
  // allocations, which nothing could stop. The report's lists of messages
  // are printed an element at a time instead, into the rest printed with
  // them empty: the same bytes as the whole printed at once
  // (report_render_test checks it).
  const pb::Descriptor& type = *r.GetDescriptor();
  pb::FieldMask rest_fields;
  std::vector<const pb::FieldDescriptor*> lists;
  for (int i = 0; i < type.field_count(); ++i) {
    const pb::FieldDescriptor* f = type.field(i);
    if (f->is_repeated() && f->message_type() != nullptr) {
      lists.push_back(f);
    } else {
      rest_fields.add_paths(f->name());
    }
  }
  v1::FairnessReport rest;
  pb::util::FieldMaskUtil::MergeMessageTo(r, rest_fields, pb::util::FieldMaskUtil::MergeOptions(),
                                          &rest);
  std::string skeleton;
  (void)pb::util::MessageToJsonString(rest, &skeleton, options);
  // An empty list is `"name": []` on a line of its own (one space: the
  // report's fields); a list's elements go one to a line, indented two
  // more than their own fields, with a comma after each but the last.
  struct Splice {
    size_t at;  // where `"name": []` is in the skeleton
    size_t size;
    const pb::FieldDescriptor* field;
  };
  // Printed whole, as before, should a list not be where it is looked for
  // or an element not print (neither seen: never a report missing a part).
  auto whole = [&] {
    std::string out;
    (void)pb::util::MessageToJsonString(r, &out, options);
    return out;
  };
  const pb::Reflection& reflection = *r.GetReflection();
  std::vector<Splice> splices;
  for (const pb::FieldDescriptor* f : lists) {
    if (reflection.FieldSize(r, f) == 0) continue;
    const std::string empty = absl::StrCat("\n \"", f->json_name(), "\": []");
    const size_t at = skeleton.find(empty);
    if (at == std::string::npos) return whole();
    splices.push_back({at, empty.size(), f});
  }
  std::sort(splices.begin(), splices.end(),
            [](const Splice& a, const Splice& b) { return a.at < b.at; });
  std::string out;
  std::string element;
  size_t copied = 0;
  for (const Splice& s : splices) {
    out.append(skeleton, copied, s.at - copied);
    copied = s.at + s.size;
    absl::StrAppend(&out, "\n \"", s.field->json_name(), "\": [\n");
    const int n = reflection.FieldSize(r, s.field);
    for (int i = 0; i < n; ++i) {
      if (!keep_going()) return {};
      element.clear();
      if (!pb::util::MessageToJsonString(reflection.GetRepeatedMessage(r, s.field, i), &element,
                                         options)
               .ok()) {
        return whole();
      }
      for (absl::string_view line : absl::StrSplit(absl::StripSuffix(element, "\n"), '\n')) {
        absl::StrAppend(&out, "  ", line, "\n");
      }
      out.pop_back();
      out += i + 1 < n ? ",\n" : "\n ]";
    }
  }
  out.append(skeleton, copied, std::string::npos);
  return out;
}

}  // namespace evenhand::reporting
