// The projection's facts keep no value its events' proto marks
// (confidential): dropped from every event type at any depth, and from a
// folded council year (its corrections' replacements too), while every
// other value is kept.
#include "projections/internal/confidential_values.h"

#include <map>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "demo/council_generator.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/descriptor.pb.h"
#include "gtest/gtest.h"
#include "projections/fairness_projection.h"

namespace evenhand::projections {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::Reflection;

bool IsConfidential(const FieldDescriptor* f) {
  return f->options().GetExtension(v1::confidential);
}

// Every string value set in `m`, at any depth, by path; and, in
// `*confidential`, how many of them are marked (confidential).
void Strings(const Message& m, const std::string& path, std::map<std::string, std::string>* out,
             int* confidential = nullptr) {
  const Reflection* r = m.GetReflection();
  std::vector<const FieldDescriptor*> fields;
  r->ListFields(m, &fields);
  for (const FieldDescriptor* f : fields) {
    const int n = f->is_repeated() ? r->FieldSize(m, f) : 1;
    for (int i = 0; i < n; ++i) {
      const std::string at = absl::StrCat(path, ".", f->name(), f->is_repeated() ? "[" : "",
                                          f->is_repeated() ? absl::StrCat(i, "]") : "");
      if (f->cpp_type() == FieldDescriptor::CPPTYPE_STRING) {
        (*out)[at] = f->is_repeated() ? r->GetRepeatedString(m, f, i) : r->GetString(m, f);
        if (confidential != nullptr && IsConfidential(f)) ++*confidential;
      } else if (f->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE) {
        Strings(f->is_repeated() ? r->GetRepeatedMessage(m, f, i) : r->GetMessage(m, f), at, out,
                confidential);
      }
    }
  }
}

// Sets every string field of `m` (one element of a repeated one) to its
// name, and fills its messages likewise, `depth` levels down.
void Fill(Message* m, int depth) {
  const Reflection* r = m->GetReflection();
  const Descriptor* d = m->GetDescriptor();
  for (int i = 0; i < d->field_count(); ++i) {
    const FieldDescriptor* f = d->field(i);
    if (f->cpp_type() == FieldDescriptor::CPPTYPE_STRING) {
      if (f->is_repeated()) {
        r->AddString(m, f, f->full_name());
      } else {
        r->SetString(m, f, f->full_name());
      }
    } else if (f->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE && depth > 0 &&
               f->containing_oneof() == nullptr) {
      Fill(f->is_repeated() ? r->AddMessage(m, f) : r->MutableMessage(m, f), depth - 1);
    }
  }
}

// For each event a payload can hold, every value filled in: the
// confidential ones are gone and the rest are as they were.
TEST(ConfidentialValuesTest, EveryEventTypeLosesItsConfidentialValuesAndKeepsTheRest) {
  const Descriptor* payload = v1::Payload::descriptor();
  int dropped = 0;
  for (int i = 0; i < payload->field_count(); ++i) {
    const FieldDescriptor* event = payload->field(i);
    if (event->cpp_type() != FieldDescriptor::CPPTYPE_MESSAGE) continue;
    SCOPED_TRACE(event->name());
    v1::Payload p;
    Message* set = p.GetReflection()->MutableMessage(&p, event);
    Fill(set, 3);
    if (event->name() == "event_corrected") {  // a replacement is a payload
      v1::Payload* replacement = p.mutable_event_corrected()->mutable_replacement();
      Fill(replacement->mutable_briefing_delivered(), 3);
    }
    std::map<std::string, std::string> before, after;
    int confidential = 0;
    Strings(p, "", &before, &confidential);
    internal::DropConfidential(&p);
    Strings(p, "", &after);
    EXPECT_EQ(before.size() - after.size(), static_cast<size_t>(confidential));
    for (const auto& [path, value] : after) {
      EXPECT_EQ(before[path], value) << path;
    }
    int left = 0;
    std::map<std::string, std::string> ignored;
    Strings(p, "", &ignored, &left);
    EXPECT_EQ(left, 0);
    dropped += confidential;
  }
  // The proto marks nine today (topics, notes, explanations, summaries,
  // reasons, outcomes, a relationship's nature), and a correction's
  // replacement's notes.
  EXPECT_GE(dropped, 10);
}

// A council year folded (with corrections that replace deliveries whole):
// its events held confidential values; its cases' facts hold none, and
// still hold every identifier.
TEST(ConfidentialValuesTest, AFoldedCouncilYearKeepsNoConfidentialValue) {
  demo::GeneratorOptions options;
  options.seed = 11;
  options.start = absl::FromCivil(absl::CivilDay(2026, 1, 5), absl::UTCTimeZone());
  options.days = 365;
  options.plant_breaches = true;
  FairnessProjection by_copy, by_move;
  int in_log = 0;
  uint64_t position = 0;
  for (auto& append : demo::GenerateCouncil(options)) {
    for (auto& e : append.events) {
      v1::RecordedEvent r;
      r.set_position(++position);
      *r.mutable_event() = std::move(e);
      r.mutable_event()->set_stream_id(append.stream_id);
      *r.mutable_event()->mutable_recorded_at() = r.event().occurred_at();
      std::map<std::string, std::string> ignored;
      Strings(r.event().payload(), "", &ignored, &in_log);
      if (r.event().payload().has_briefing_delivered() && position % 7 == 0) {
        by_copy.Apply(r);
        by_move.Apply(v1::RecordedEvent(r));
        // A correction replacing the delivery whole, notes and all.
        v1::RecordedEvent c = r;
        c.set_position(++position);
        auto* corrected = c.mutable_event()->mutable_payload()->mutable_event_corrected();
        corrected->set_corrected_event_id(r.event().event_id());
        corrected->set_corrected_position(r.position());
        *corrected->mutable_replacement() = r.event().payload();
        corrected->mutable_replacement()->mutable_briefing_delivered()->set_notes("said again");
        r = std::move(c);
      }
      by_copy.Apply(r);
      by_move.Apply(std::move(r));
    }
  }
  ASSERT_GT(in_log, 100) << "the generated council writes topics and notes";
  for (const FairnessProjection* p : {&by_copy, &by_move}) {
    int cases = 0, facts = 0, corrections = 0;
    p->ForEachDirtyCase([&](const state::CaseRecord& record) {
      ++cases;
      std::map<std::string, std::string> strings;
      int confidential = 0;
      Strings(record, "", &strings, &confidential);
      EXPECT_EQ(confidential, 0) << record.stream_id();
      for (const state::FactRecord& f : record.facts()) {
        ++facts;
        corrections += f.corrections_size();
        if (f.payload().has_briefing_requested()) {
          EXPECT_FALSE(f.payload().briefing_requested().matter_id().empty());
          EXPECT_FALSE(f.payload().briefing_requested().group_id().empty());
        }
      }
    });
    EXPECT_EQ(cases, static_cast<int>(p->case_count()));
    EXPECT_GT(facts, 1000);
    EXPECT_GT(corrections, 10);
  }
}

}  // namespace
}  // namespace evenhand::projections
