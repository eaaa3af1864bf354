#include "demo/demo_council.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "base/uuid.h"

namespace evenhand::demo {

Timeline::Timeline(std::string seed, std::string source_system)
    : seed_(std::move(seed)), source_system_(std::move(source_system)) {}

void Timeline::Add(const std::string& stream_id, absl::Time at, v1::Payload payload,
                   const std::string& actor) {
  v1::Event e;
  e.set_event_id(UuidFromName(absl::StrCat(seed_, "/", events_.size())));
  int64_t nanos = absl::ToUnixNanos(at);
  e.mutable_occurred_at()->set_seconds(nanos / 1000000000);
  e.mutable_occurred_at()->set_nanos(static_cast<int32_t>(nanos % 1000000000));
  e.set_source_system(source_system_);
  e.set_actor(actor);
  *e.mutable_payload() = std::move(payload);
  events_.emplace_back(stream_id, std::move(e));
}

std::vector<StreamAppend> Timeline::Take() {
  std::stable_sort(events_.begin(), events_.end(), [](const auto& a, const auto& b) {
    const auto& x = a.second.occurred_at();
    const auto& y = b.second.occurred_at();
    return x.seconds() != y.seconds() ? x.seconds() < y.seconds() : x.nanos() < y.nanos();
  });
  std::vector<StreamAppend> out;
  out.reserve(events_.size());
  for (auto& [stream, event] : events_) {
    StreamAppend append;
    append.stream_id = stream;
    append.events.push_back(std::move(event));
    out.push_back(std::move(append));
  }
  events_.clear();
  return out;
}

std::vector<StreamAppend> DemoCouncil(absl::Time now) {
  Timeline t("demo-council-v1", "demo-loader");
  const absl::Time start = now - absl::Hours(24 * 365);
  auto day = [&](int d, int hour = 10) { return start + absl::Hours(24 * d + hour); };

  struct Group {
    const char* id;
    const char* name;
    std::vector<std::string> members;
  };
  const std::vector<Group> groups = {
      {"labour", "Labour Group", {"m-ahmed", "m-baker", "m-chen", "m-davies", "m-evans"}},
      {"conservative", "Conservative Group", {"m-fox", "m-green", "m-hughes"}},
      {"libdem", "Liberal Democrat Group", {"m-iqbal", "m-jones"}},
      {"green", "Green Group", {"m-khan", "m-lewis"}},
  };
  for (const Group& g : groups) {
    for (const std::string& m : g.members) {
      v1::Payload p;
      p.mutable_member_registered()->set_member_id(m);
      p.mutable_member_registered()->set_name(absl::StrCat("Cllr ", m.substr(2)));
      t.Add(absl::StrCat("member-", m), day(0, 9), p, "democratic-services");
    }
    v1::Payload p;
    auto* r = p.mutable_political_group_recognised();
    r->set_group_id(g.id);
    r->set_name(g.name);
    for (const std::string& m : g.members) r->add_member_ids(m);
    r->set_leader_member_id(g.members.front());
    t.Add(absl::StrCat("group-", g.id), day(0, 10), p, "democratic-services");
  }

  struct Officer {
    const char* id;
    const char* name;
    v1::OfficerRole role;
  };
  const std::vector<Officer> officers = {
      {"o-ceo", "Chief Executive", v1::HEAD_OF_PAID_SERVICE},
      {"o-mo", "Monitoring Officer", v1::MONITORING_OFFICER},
      {"o-cfo", "Chief Finance Officer", v1::CHIEF_FINANCE_OFFICER},
      {"o-dir-place", "Director of Place", v1::DIRECTOR},
      {"o-hos-planning", "Head of Planning", v1::HEAD_OF_SERVICE},
  };
  for (const Officer& o : officers) {
    v1::Payload p;
    auto* r = p.mutable_officer_registered();
    r->set_officer_id(o.id);
    r->set_name(o.name);
    r->set_role(o.role);
    t.Add(absl::StrCat("officer-", o.id), day(0, 11), p, "hr-system");
  }

  // A briefing of the Labour group on the Local Plan, offered to the others.
  {
    v1::Payload p;
    auto* r = p.mutable_briefing_requested();
    r->set_briefing_id("B-1001");
    r->set_group_id("labour");
    r->set_requested_by_member_id("m-ahmed");
    r->set_topic("Local Plan consultation");
    r->set_matter_id("local-plan-2026");
    r->set_routed_to_officer_id("o-ceo");
    t.Add("briefing-B-1001", day(20), p, "m-ahmed");
  }
  {
    v1::Payload p;
    auto* r = p.mutable_briefing_approved();
    r->set_briefing_id("B-1001");
    r->set_approved_by_officer_id("o-ceo");
    r->add_assigned_officer_ids("o-hos-planning");
    t.Add("briefing-B-1001", day(21), p, "o-ceo");
  }
  {
    v1::Payload p;
    auto* r = p.mutable_briefing_delivered();
    r->set_briefing_id("B-1001");
    r->add_officer_ids("o-hos-planning");
    r->set_duration_minutes(60);
    r->set_business(v1::COUNCIL_BUSINESS);
    t.Add("briefing-B-1001", day(28, 18), p, "o-hos-planning");
  }
  // A written query answered in time.
  {
    v1::Payload p;
    auto* r = p.mutable_written_query_received();
    r->set_query_id("Q-2001");
    r->set_member_id("m-iqbal");
    r->set_addressed_to_officer_id("o-hos-planning");
    r->set_subject("Planning enforcement backlog");
    r->set_channel("email");
    t.Add("query-Q-2001", day(30), p, "m-iqbal");
  }
  {
    v1::Payload p;
    p.mutable_written_query_answered()->set_query_id("Q-2001");
    p.mutable_written_query_answered()->set_officer_id("o-hos-planning");
    t.Add("query-Q-2001", day(32), p, "o-hos-planning");
  }
  return t.Take();
}

}  // namespace evenhand::demo
