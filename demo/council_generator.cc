#include "demo/council_generator.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <random>

#include "absl/strings/str_cat.h"
#include "absl/time/civil_time.h"
#include "base/time_util.h"
#include "projections/fairness_projection.h"

namespace evenhand::demo {
namespace {

bool IsWeekday(absl::CivilDay d) {
  absl::Weekday w = absl::GetWeekday(d);
  return w != absl::Weekday::saturday && w != absl::Weekday::sunday;
}

// `n` weekdays after `d` (n >= 0; 0 gives the next weekday on or after d).
absl::CivilDay AddWeekdays(absl::CivilDay d, int n) {
  while (!IsWeekday(d)) ++d;
  while (n > 0) {
    ++d;
    if (IsWeekday(d)) --n;
  }
  return d;
}

struct GroupSpec {
  const char* id;
  const char* name;
  int size;
  // Briefings asked for per weekday at intensity 1.
  double briefing_rate;
  const char* political_assistant;  // "" if the group has none
};

constexpr GroupSpec kGroups[] = {
    {"labour", "Labour Group", 24, 0.12, "o-pa-labour"},
    {"conservative", "Conservative Group", 14, 0.08, "o-pa-conservative"},
    {"libdem", "Liberal Democrat Group", 6, 0.05, ""},
    {"green", "Green Group", 4, 0.04, ""},
};

struct OfficerSpec {
  const char* id;
  const char* name;
  v1::OfficerRole role;
  // The officer's Director (complaints go there, Harlow 12.4); "" for none.
  const char* director = "";
};

constexpr OfficerSpec kOfficers[] = {
    {"o-ceo", "Sarah Whitfield, Chief Executive", v1::HEAD_OF_PAID_SERVICE},
    {"o-mo", "David Okafor, Monitoring Officer", v1::MONITORING_OFFICER},
    {"o-cfo", "Priya Raman, Chief Finance Officer", v1::CHIEF_FINANCE_OFFICER},
    {"o-dir-place", "Tom Hargreaves, Director of Place", v1::DIRECTOR},
    {"o-dir-people", "Aisha Begum, Director of People", v1::DIRECTOR},
    {"o-dir-resources", "Mark Ellison, Director of Resources", v1::DIRECTOR},
    {"o-hos-planning", "Claire Dunn, Head of Planning", v1::HEAD_OF_SERVICE, "o-dir-place"},
    {"o-hos-housing", "Rob Castell, Head of Housing", v1::HEAD_OF_SERVICE, "o-dir-people"},
    {"o-hos-finance", "Nadia Shah, Head of Finance", v1::HEAD_OF_SERVICE, "o-dir-resources"},
    {"o-hos-environment", "Gareth Price, Head of Environment", v1::HEAD_OF_SERVICE, "o-dir-place"},
    {"o-policy", "Emma Lowe, Policy Officer", v1::OFFICER, "o-dir-resources"},
    {"o-pa-labour", "Jack Moran, Labour Group Assistant", v1::POLITICAL_ASSISTANT},
    {"o-pa-conservative", "Lucy Hale, Conservative Group Assistant", v1::POLITICAL_ASSISTANT},
};

// Officers who give briefings and answer queries.
constexpr const char* kAdvisers[] = {"o-dir-place",       "o-dir-people",  "o-dir-resources",
                                     "o-hos-planning",    "o-hos-housing", "o-hos-finance",
                                     "o-hos-environment", "o-policy"};

constexpr const char* kSurnames[] = {
    "Ahmed",  "Baker",   "Clarke", "Davies", "Evans",  "Fletcher", "Green",  "Hughes",
    "Iqbal",  "Jones",   "Khan",   "Lewis",  "Morgan", "Nolan",    "Owen",   "Patel",
    "Quinn",  "Roberts", "Singh",  "Taylor", "Upton",  "Vaughan",  "Walker", "Young",
    "Ashby",  "Brennan", "Carter", "Dixon",  "Ellis",  "Foster",   "Gill",   "Harris",
    "Irving", "Jarvis",  "Kemp",   "Lowe",   "Marsh",  "Nash",     "Oakley", "Price",
    "Reid",   "Shaw",    "Thorne", "Usher",  "Vine",   "Webb",     "Yates",  "Zeal",
};

constexpr const char* kTopics[] = {
    "Local Plan review",          "Budget and medium-term financial plan",
    "Housing allocations policy", "Waste collection contract",
    "Town centre regeneration",   "Parking strategy",
    "Leisure centre future",      "Climate action plan",
    "Council tax support scheme", "Children's services inspection",
    "Library opening hours",      "Air quality action plan",
    "Homelessness strategy",      "Capital programme",
    "Planning enforcement",       "Flood risk management",
};

class Generator {
 public:
  explicit Generator(const GeneratorOptions& o)
      : o_(o),
        rng_(o.seed),
        t_(absl::StrCat("council-", o.id_prefix, o.seed), "demo-council"),
        start_day_(absl::ToCivilDay(o.start, UkTimeZone())),
        end_(o.start + absl::Hours(24 * o.days)),
        cutoff_(o.cutoff == absl::InfiniteFuture() ? end_ : o.cutoff) {}

  std::vector<StreamAppend> Run() {
    ComputeElections();
    Registry();
    Elections();
    for (int d = 0; d < o_.days; ++d) Day(start_day_ + d);
    if (o_.plant_breaches) PlantBreaches();
    return t_.Take();
  }

 private:
  // ---- randomness and time ------------------------------------------------
  double Uniform() { return std::uniform_real_distribution<double>(0, 1)(rng_); }
  bool Chance(double p) { return Uniform() < p; }
  int Int(int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng_); }
  template <typename T, size_t N>
  const T& Pick(const T (&items)[N]) {
    return items[static_cast<size_t>(Int(0, static_cast<int>(N) - 1))];
  }
  // Poisson count for a rate, so high intensities stay smooth.
  int Count(double rate) { return std::poisson_distribution<int>(rate)(rng_); }

  absl::Time At(absl::CivilDay day, int hour, int minute = 0) {
    return absl::FromCivil(absl::CivilSecond(day.year(), day.month(), day.day(), hour, minute, 0),
                           UkTimeZone());
  }
  absl::Time WorkTime(absl::CivilDay day) { return At(day, Int(9, 16), Int(0, 59)); }

  std::string Id(absl::string_view kind) {
    return absl::StrCat(o_.id_prefix, kind, "-", ++next_id_);
  }
  // Case ids (briefings, queries, ...) and registry ids (groups, councillors,
  // officers) are prefixed separately, so years generated in turn can share
  // one council.
  std::string P(absl::string_view id) const { return absl::StrCat(o_.id_prefix, id); }
  std::string C(absl::string_view id) const { return absl::StrCat(o_.council_prefix, id); }

  // Records the event unless it has not happened yet.
  void Add(absl::Time at, const v1::Payload& payload, const std::string& actor) {
    if (at > cutoff_) return;
    t_.Add(projections::CanonicalStream(payload), at, payload, actor);
  }

  // ---- elections --------------------------------------------------------------
  void ComputeElections() {
    const int first = static_cast<int>(start_day_.year());
    const int last = static_cast<int>((start_day_ + o_.days).year());
    for (int y = first; y <= last; ++y) {
      absl::CivilDay day(y, 5, 1);
      while (absl::GetWeekday(day) != absl::Weekday::thursday) ++day;
      elections_.push_back({day - 42, day});
    }
  }
  bool InPreElection(absl::CivilDay d, int margin_days = 0) const {
    for (const auto& [from, to] : elections_) {
      if (d >= from - margin_days && d <= to) return true;
    }
    return false;
  }
  // The first weekday at or after `d` clear of any pre-election period.
  absl::CivilDay Clear(absl::CivilDay d) const {
    d = AddWeekdays(d, 0);
    while (InPreElection(d, 14)) d = AddWeekdays(d + 1, 0);
    return d;
  }

  // ---- the council ------------------------------------------------------------
  void Registry() {
    const absl::CivilDay day0 = start_day_ - 1;
    int surname = 0;
    const bool emit = o_.register_council;
    for (const GroupSpec& g : kGroups) {
      std::vector<std::string> members;
      for (int i = 0; i < g.size; ++i) {
        const std::string id = C(absl::StrCat(g.id, "-", i + 1));
        members.push_back(id);
        if (!emit) continue;
        v1::Payload p;
        p.mutable_member_registered()->set_member_id(id);
        const int n = surname++;
        p.mutable_member_registered()->set_name(
            absl::StrCat("Cllr ", kSurnames[n % std::size(kSurnames)],
                         n >= static_cast<int>(std::size(kSurnames)) ? " II" : ""));
        p.mutable_member_registered()->set_ward(absl::StrCat("Ward ", 1 + i % 16));
        Add(At(day0, 9), p, "democratic-services");
      }
      members_[g.id] = members;
      if (!emit) continue;
      v1::Payload p;
      auto* r = p.mutable_political_group_recognised();
      r->set_group_id(C(g.id));
      r->set_name(g.name);
      for (const auto& m : members) r->add_member_ids(m);
      r->set_leader_member_id(members.front());
      Add(At(day0, 10), p, "democratic-services");
    }
    if (!emit) return;
    for (const OfficerSpec& s : kOfficers) {
      v1::Payload p;
      p.mutable_officer_registered()->set_officer_id(C(s.id));
      p.mutable_officer_registered()->set_name(s.name);
      p.mutable_officer_registered()->set_role(s.role);
      if (*s.director != '\0')
        p.mutable_officer_registered()->set_director_officer_id(C(s.director));
      // A political assistant works for the group that names it.
      for (const GroupSpec& g : kGroups) {
        if (absl::string_view(g.political_assistant) == s.id) {
          p.mutable_officer_registered()->set_group_id(C(g.id));
        }
      }
      Add(At(day0, 11), p, "hr-system");
    }
    // The Head of Paid Service lets the Director of Resources agree briefings
    // (Harlow 15.3).
    v1::Payload d;
    d.mutable_approval_delegated()->set_delegate_officer_id(C("o-dir-resources"));
    d.mutable_approval_delegated()->set_delegated_by_officer_id(C("o-ceo"));
    Add(At(day0, 12), d, C("o-ceo"));
  }

  // Each pre-election period that overlaps the window, declared on its
  // first day.
  void Elections() {
    for (const auto& [from, to] : elections_) {
      if (to < start_day_ || from > start_day_ + o_.days) continue;
      v1::Payload e;
      auto* p = e.mutable_pre_election_period_declared();
      p->set_period_id(P(absl::StrCat("local-", to.year())));
      *p->mutable_starts_at() = ToProtoTime(At(from, 0));
      *p->mutable_election_day() = ToProtoTime(At(to, 12));
      p->set_description(absl::StrCat("local elections, ", to.year()));
      Add(At(from, 9), e, "electoral-services");
    }
  }

  const std::string& Member(const char* group) {
    const auto& m = members_.at(group);
    return m[static_cast<size_t>(Int(0, static_cast<int>(m.size()) - 1))];
  }

  std::string Approver() { return C(Chance(0.7) ? "o-ceo" : "o-dir-resources"); }

  // ---- a day of business ------------------------------------------------------
  void Day(absl::CivilDay day) {
    if (!IsWeekday(day)) return;
    const bool pre_election = InPreElection(day);
    for (const GroupSpec& g : kGroups) {
      for (int n = Count(g.briefing_rate * o_.intensity); n > 0; --n) {
        BackgroundBriefing(day, g, pre_election);
      }
      // Each councillor writes about once a month.
      for (int n = Count(g.size * 0.05 * o_.intensity); n > 0; --n) Query(day, Member(g.id));
    }
    for (int n = Count(0.02 * o_.intensity); n > 0; --n) BackgroundComplaint(day);
    // Group meetings on Mondays with the group's assistant present.
    if (absl::GetWeekday(day) == absl::Weekday::monday) {
      for (const GroupSpec& g : kGroups) {
        if (*g.political_assistant == '\0') continue;
        v1::Payload p;
        auto* a = p.mutable_officer_attended_group_meeting();
        a->set_meeting_id(Id("M"));
        a->set_group_id(C(g.id));
        a->set_officer_id(C(g.political_assistant));
        a->set_business(Chance(0.5) ? v1::PARTY_POLITICAL_BUSINESS : v1::COUNCIL_BUSINESS);
        a->set_duration_minutes(120);
        Add(At(day, 19), p, C(g.political_assistant));
      }
    }
  }

  void BackgroundBriefing(absl::CivilDay day, const GroupSpec& g, bool pre_election) {
    const std::string id = Id("B");
    // Matters recur for a while (several groups ask about the same one) and
    // then move on, as council business does.
    const int topic_index = Int(0, static_cast<int>(std::size(kTopics)) - 1);
    const std::string matter =
        absl::StrCat(o_.id_prefix, "matter-", topic_index, "-", next_id_ / 40);
    const absl::Time asked = WorkTime(day);
    Request(asked, id, g.id, matter, kTopics[topic_index], "");
    const absl::CivilDay decided = AddWeekdays(day, Int(1, 2));
    // In (or close to) a pre-election period the Head of Paid Service
    // declines: officers must not attend (mayoral §9).
    if (pre_election || InPreElection(decided, 14)) {
      Decline(WorkTime(decided), id, C("o-ceo"), v1::PRE_ELECTION_PERIOD);
      return;
    }
    if (Chance(0.08)) {
      Decline(WorkTime(decided), id, C("o-ceo"),
              Chance(0.5) ? v1::RESOURCES : v1::OFFICER_UNAVAILABLE);
      return;
    }
    std::vector<std::string> officers = {C(Pick(kAdvisers))};
    if (Chance(0.3)) {
      std::string second = C(Pick(kAdvisers));
      if (second != officers[0]) officers.push_back(second);
    }
    Approve(WorkTime(decided), id, Approver(), officers);
    const absl::CivilDay delivered = AddWeekdays(decided, Int(3, 10));
    if (InPreElection(delivered)) return;  // postponed past the window
    Deliver(At(delivered, 18), id, officers, 30 * Int(1, 3), v1::COUNCIL_BUSINESS, 0, false);
    // The other groups are offered the same within three working days.
    for (const GroupSpec& other : kGroups) {
      if (other.id == g.id) continue;
      const std::string offer = Id("O");
      const absl::CivilDay offered = AddWeekdays(delivered, Int(1, 3));
      Offer(WorkTime(offered), offer, other.id, matter, kTopics[topic_index], id);
      const double take = Uniform();
      if (take < 0.4) {
        // Taken up: a briefing of its own on the same matter.
        const std::string taken = Id("B");
        const absl::CivilDay asked_day = AddWeekdays(offered, Int(1, 3));
        Request(WorkTime(asked_day), taken, other.id, matter, kTopics[topic_index], offer);
        const absl::CivilDay ok = AddWeekdays(asked_day, 1);
        if (InPreElection(ok, 14)) {
          Decline(WorkTime(ok), taken, C("o-ceo"), v1::PRE_ELECTION_PERIOD);
          continue;
        }
        Approve(WorkTime(ok), taken, Approver(), officers);
        const absl::CivilDay given = AddWeekdays(ok, Int(2, 8));
        if (!InPreElection(given)) {
          Deliver(At(given, 18), taken, officers, 30 * Int(1, 3), v1::COUNCIL_BUSINESS, 0, false);
        }
      } else if (take < 0.8) {
        v1::Payload p;
        p.mutable_briefing_offer_not_taken_up()->set_offer_id(offer);
        p.mutable_briefing_offer_not_taken_up()->set_group_id(C(other.id));
        Add(WorkTime(AddWeekdays(offered, Int(2, 6))), p, Member(other.id));
      }
    }
  }

  void Query(absl::CivilDay day, const std::string& member) {
    const std::string id = Id("Q");
    const std::string officer = C(Pick(kAdvisers));
    v1::Payload p;
    auto* q = p.mutable_written_query_received();
    q->set_query_id(id);
    q->set_member_id(member);
    q->set_addressed_to_officer_id(officer);
    q->set_subject(absl::StrCat("Query about ", kTopics[next_id_ % std::size(kTopics)]));
    q->set_channel("email");
    Add(WorkTime(day), p, member);
    if (Chance(0.9)) {
      Answer(WorkTime(AddWeekdays(day, Int(1, 4))), id, officer);
    } else {
      const absl::CivilDay acked = AddWeekdays(day, Int(1, 2));
      const absl::CivilDay due = AddWeekdays(acked, 10);
      v1::Payload a;
      a.mutable_written_query_acknowledged()->set_query_id(id);
      a.mutable_written_query_acknowledged()->set_officer_id(officer);
      *a.mutable_written_query_acknowledged()->mutable_reply_due_at() = ToProtoTime(At(due, 17));
      Add(WorkTime(acked), a, officer);
      Answer(WorkTime(AddWeekdays(acked, Int(3, 9))), id, officer);
    }
  }

  void BackgroundComplaint(absl::CivilDay day) {
    const std::string id = Id("C");
    const GroupSpec& g = kGroups[static_cast<size_t>(Int(0, 3))];
    const std::string member = Member(g.id);
    // Raised, as Harlow 12.4 says, with the officer's own Director.
    const bool policy = Chance(0.5);
    const std::string director = C(policy ? "o-dir-resources" : "o-dir-place");
    v1::Payload p;
    auto* c = p.mutable_complaint_raised();
    c->set_complaint_id(id);
    c->mutable_raised_by()->set_member_id(member);
    c->mutable_about()->set_officer_id(C(policy ? "o-policy" : "o-hos-environment"));
    c->set_raised_with_officer_id(director);
    c->set_summary("Handling of a constituent's case");
    Add(WorkTime(day), p, member);
    absl::CivilDay next = AddWeekdays(day, Int(5, 15));
    std::string resolver = director;
    if (Chance(0.2)) {
      v1::Payload e;
      e.mutable_complaint_escalated()->set_complaint_id(id);
      e.mutable_complaint_escalated()->set_escalated_to_officer_id(C("o-ceo"));
      e.mutable_complaint_escalated()->set_reason("councillor not satisfied");
      Add(WorkTime(next), e, member);
      next = AddWeekdays(next, Int(5, 10));
      resolver = C("o-ceo");
    }
    v1::Payload r;
    r.mutable_complaint_resolved()->set_complaint_id(id);
    r.mutable_complaint_resolved()->set_resolved_by_officer_id(resolver);
    r.mutable_complaint_resolved()->set_outcome("explanation given; practice reviewed");
    Add(WorkTime(next), r, resolver);
  }

  // ---- event helpers ------------------------------------------------------------
  void Request(absl::Time at, const std::string& id, const char* group, const std::string& matter,
               const char* topic, const std::string& in_response_to) {
    Request(at, id, group, matter, topic, in_response_to, Member(group));
  }
  void Request(absl::Time at, const std::string& id, const char* group, const std::string& matter,
               const char* topic, const std::string& in_response_to, const std::string& member) {
    v1::Payload p;
    auto* r = p.mutable_briefing_requested();
    r->set_briefing_id(id);
    r->set_group_id(C(group));
    r->set_requested_by_member_id(member);
    r->set_topic(topic);
    r->set_matter_id(matter);
    r->set_routed_to_officer_id(C("o-ceo"));
    r->set_in_response_to_offer_id(in_response_to);
    Add(at, p, member);
  }
  void Approve(absl::Time at, const std::string& id, const std::string& by,
               const std::vector<std::string>& officers) {
    v1::Payload p;
    p.mutable_briefing_approved()->set_briefing_id(id);
    p.mutable_briefing_approved()->set_approved_by_officer_id(by);
    for (const auto& o : officers) p.mutable_briefing_approved()->add_assigned_officer_ids(o);
    Add(at, p, by);
  }
  void Decline(absl::Time at, const std::string& id, const std::string& by, v1::DeclineReason r) {
    v1::Payload p;
    p.mutable_briefing_declined()->set_briefing_id(id);
    p.mutable_briefing_declined()->set_declined_by_officer_id(by);
    p.mutable_briefing_declined()->set_reason(r);
    Add(at, p, by);
  }
  void Deliver(absl::Time at, const std::string& id, const std::vector<std::string>& officers,
               int minutes, v1::Business business, int non_members, bool permitted) {
    v1::Payload p;
    auto* d = p.mutable_briefing_delivered();
    d->set_briefing_id(id);
    for (const auto& o : officers) d->add_officer_ids(o);
    d->set_duration_minutes(minutes);
    d->set_business(business);
    d->set_non_members_present(non_members);
    d->set_non_member_attendance_permitted(permitted);
    Add(at, p, officers.front());
  }
  void Offer(absl::Time at, const std::string& offer, const char* group, const std::string& matter,
             const char* topic, const std::string& prompted_by) {
    v1::Payload p;
    auto* o = p.mutable_briefing_offered();
    o->set_offer_id(offer);
    o->set_group_id(C(group));
    o->set_matter_id(matter);
    o->set_topic(topic);
    o->set_prompted_by_briefing_id(prompted_by);
    o->set_offered_by_officer_id(C("o-ceo"));
    Add(at, p, C("o-ceo"));
  }
  void Answer(absl::Time at, const std::string& id, const std::string& officer) {
    v1::Payload p;
    p.mutable_written_query_answered()->set_query_id(id);
    p.mutable_written_query_answered()->set_officer_id(officer);
    Add(at, p, officer);
  }
  void Attend(absl::Time at, const char* group, const char* officer, const char* approved_by,
              v1::Business business, const std::string& matter = "") {
    v1::Payload p;
    auto* a = p.mutable_officer_attended_group_meeting();
    a->set_meeting_id(Id("M"));
    a->set_group_id(C(group));
    a->set_officer_id(C(officer));
    if (*approved_by != '\0') a->set_approved_by_officer_id(C(approved_by));
    a->set_business(business);
    a->set_duration_minutes(60);
    a->set_matter_id(matter);
    Add(at, p, C(officer));
  }

  // ---- planted breaches ---------------------------------------------------------
  // One or more per rule, so the demo report shows each kind of finding.
  void PlantBreaches() {
    auto day = [&](int n) { return Clear(start_day_ + n); };

    // equal-offer: Labour briefed on the Local Plan; the Greens never offered.
    {
      const absl::CivilDay d = day(40);
      const std::string b = P("B-LP-1");
      Request(At(d, 10), b, "labour", P("local-plan-review"), "Local Plan review", "",
              members_.at("labour")[0]);
      Approve(At(d, 15), b, C("o-ceo"), {C("o-hos-planning")});
      const absl::CivilDay given = AddWeekdays(d, 4);
      Deliver(At(given, 18), b, {C("o-hos-planning")}, 90, v1::COUNCIL_BUSINESS, 0, false);
      Offer(At(AddWeekdays(given, 1), 10), P("O-LP-con"), "conservative", P("local-plan-review"),
            "Local Plan review", b);
      Offer(At(AddWeekdays(given, 1), 10), P("O-LP-ld"), "libdem", P("local-plan-review"),
            "Local Plan review", b);
    }
    // equal-offer, late: the Greens offered the parking briefing 8 working
    // days after the Conservatives had it.
    {
      const absl::CivilDay d = day(70);
      const std::string b = P("B-PK-1");
      Request(At(d, 10), b, "conservative", P("parking-strategy"), "Parking strategy", "",
              members_.at("conservative")[0]);
      Approve(At(d, 14), b, C("o-ceo"), {C("o-dir-place")});
      const absl::CivilDay given = AddWeekdays(d, 3);
      Deliver(At(given, 18), b, {C("o-dir-place")}, 60, v1::COUNCIL_BUSINESS, 0, false);
      Offer(At(AddWeekdays(given, 1), 10), P("O-PK-lab"), "labour", P("parking-strategy"),
            "Parking strategy", b);
      Offer(At(AddWeekdays(given, 2), 10), P("O-PK-ld"), "libdem", P("parking-strategy"),
            "Parking strategy", b);
      Offer(At(AddWeekdays(given, 8), 10), P("O-PK-grn"), "green", P("parking-strategy"),
            "Parking strategy", b);
    }
    // pre-election-attendance: a director at a Conservative group meeting in
    // the first pre-election period of the window.
    for (const auto& [from, to] : elections_) {
      const absl::CivilDay mid = AddWeekdays(from + 14, 0);
      if (At(mid, 19) < o_.start || At(mid, 19) > end_) continue;
      Attend(At(mid, 19), "conservative", "o-dir-place", "o-ceo", v1::COUNCIL_BUSINESS);
      break;
    }
    // written-query-reply: a Green councillor waits nine working days; a
    // Liberal Democrat's query is never answered.
    {
      const absl::CivilDay d = day(95);
      const std::string q = P("Q-LATE-1");
      v1::Payload p;
      auto* r = p.mutable_written_query_received();
      r->set_query_id(q);
      r->set_member_id(members_.at("green")[1]);
      r->set_addressed_to_officer_id(C("o-hos-housing"));
      r->set_subject("Temporary accommodation placements");
      r->set_channel("email");
      Add(At(d, 11), p, members_.at("green")[1]);
      Answer(At(AddWeekdays(d, 9), 15), q, C("o-hos-housing"));
      const absl::CivilDay d2 = day(200);
      v1::Payload p2;
      auto* r2 = p2.mutable_written_query_received();
      r2->set_query_id(P("Q-LOST-1"));
      r2->set_member_id(members_.at("libdem")[2]);
      r2->set_addressed_to_officer_id(C("o-hos-environment"));
      r2->set_subject("Fly-tipping on the canal path");
      r2->set_channel("letter");
      Add(At(d2, 10), p2, members_.at("libdem")[2]);
    }
    // same-matter-decline (Harlow 15.12): the Director of Resources briefs
    // Labour on the budget, then declines the Liberal Democrats on it.
    {
      const absl::CivilDay d = day(110);
      Request(At(d, 10), P("B-BUD-1"), "labour", P("budget-setting"), "Budget and council tax", "",
              members_.at("labour")[1]);
      Approve(At(d, 12), P("B-BUD-1"), C("o-ceo"), {C("o-dir-resources")});
      const absl::CivilDay given = AddWeekdays(d, 2);
      Deliver(At(given, 18), P("B-BUD-1"), {C("o-dir-resources")}, 60, v1::COUNCIL_BUSINESS, 0,
              false);
      for (const char* g : {"conservative", "green"}) {
        Offer(At(AddWeekdays(given, 1), 9), P(absl::StrCat("O-BUD-", g)), g, P("budget-setting"),
              "Budget and council tax", P("B-BUD-1"));
      }
      Request(At(AddWeekdays(given, 1), 11), P("B-BUD-2"), "libdem", P("budget-setting"),
              "Budget and council tax", "", members_.at("libdem")[0]);
      Decline(At(AddWeekdays(given, 2), 10), P("B-BUD-2"), C("o-dir-resources"),
              v1::OFFICER_UNAVAILABLE);
    }
    // approval-required: a head of service briefs the Conservatives with no
    // one's agreement; and non-members-present: a briefing with two party
    // members who are not councillors, unpermitted.
    {
      const absl::CivilDay d = day(180);
      Request(At(d, 10), P("B-HSG-1"), "conservative", P("housing-allocations"),
              "Housing allocations policy", "", members_.at("conservative")[2]);
      const absl::CivilDay given = AddWeekdays(d, 2);
      Deliver(At(given, 18), P("B-HSG-1"), {C("o-hos-housing")}, 45, v1::COUNCIL_BUSINESS, 0,
              false);
      OfferAll(given, "conservative", P("housing-allocations"), "Housing allocations policy",
               P("B-HSG-1"));
      const absl::CivilDay d2 = day(190);
      Request(At(d2, 10), P("B-TC-1"), "conservative", P("town-centre"), "Town centre regeneration",
              "", members_.at("conservative")[3]);
      Approve(At(d2, 15), P("B-TC-1"), C("o-ceo"), {C("o-dir-place")});
      const absl::CivilDay given2 = AddWeekdays(d2, 3);
      Deliver(At(given2, 18), P("B-TC-1"), {C("o-dir-place")}, 60, v1::COUNCIL_BUSINESS, 2, false);
      OfferAll(given2, "conservative", P("town-centre"), "Town centre regeneration", P("B-TC-1"));
    }
    // party-political-business: the Head of Environment stays on for the
    // party-political part of a Labour group meeting.
    Attend(At(day(205), 19), "labour", "o-hos-environment", "o-ceo", v1::PARTY_POLITICAL_BUSINESS);
    // complaint-routing: a Green councillor's complaint about the policy
    // officer goes to a head of service and is escalated to another.
    {
      const absl::CivilDay d = day(220);
      v1::Payload p;
      auto* c = p.mutable_complaint_raised();
      c->set_complaint_id(P("C-RT-1"));
      c->mutable_raised_by()->set_member_id(members_.at("green")[0]);
      c->mutable_about()->set_officer_id(C("o-policy"));
      c->set_raised_with_officer_id(C("o-hos-planning"));
      c->set_summary("Briefing note withheld");
      Add(At(d, 10), p, members_.at("green")[0]);
      v1::Payload e;
      e.mutable_complaint_escalated()->set_complaint_id(P("C-RT-1"));
      e.mutable_complaint_escalated()->set_escalated_to_officer_id(C("o-hos-finance"));
      e.mutable_complaint_escalated()->set_reason("no reply");
      Add(At(AddWeekdays(d, 10), 10), e, members_.at("green")[0]);
    }
    // relationship-conflict: a Labour councillor declares her brother, the
    // Head of Housing, then sits on the panel deciding his regrading.
    {
      const std::string member = members_.at("labour")[5];
      v1::Payload r;
      r.mutable_relationship_declared()->set_member_id(member);
      r.mutable_relationship_declared()->set_officer_id(C("o-hos-housing"));
      r.mutable_relationship_declared()->set_nature("sibling");
      r.mutable_relationship_declared()->set_declared_to_officer_id(C("o-mo"));
      Add(At(day(33), 10), r, member);
      v1::Payload d;
      auto* x = d.mutable_member_participated_in_decision();
      x->set_member_id(member);
      x->set_decision_id(P("D-REGRADE-1"));
      x->set_body("Appointments and Remuneration Panel");
      x->add_affected_officer_ids(C("o-hos-housing"));
      x->set_description("Regrading of Head of Housing post");
      Add(At(day(240), 14), d, member);
    }
    // confidentiality-relay: what Labour said at its Local Plan briefing is
    // passed to the Conservatives.
    {
      v1::Payload p;
      auto* d = p.mutable_group_information_disclosed();
      d->set_briefing_id(P("B-LP-1"));
      d->set_from_group_id(C("labour"));
      d->set_to_group_id(C("conservative"));
      d->set_disclosed_by_officer_id(C("o-hos-planning"));
      d->set_agreed_by_originating_group(false);
      d->set_summary("Labour's amendment strategy mentioned to the Conservative leader");
      Add(At(day(55), 16), p, C("o-mo"));
    }
    // access-parity: the Greens' requests declined far more often.
    for (int i = 0; i < 14; ++i) {
      const absl::CivilDay d = day(246 + 5 * i);
      const std::string id = P(absl::StrCat("B-GRN-", i + 1));
      Request(At(d, 10), id, "green", P(absl::StrCat("green-matter-", i)),
              kTopics[(i * 5) % std::size(kTopics)], "", members_.at("green")[i % 4]);
      Decline(At(AddWeekdays(d, 1), 10), id, C("o-ceo"), v1::RESOURCES);
    }
    // data-quality: a Labour councillor asks for a briefing for the Greens.
    Request(At(day(300), 10), P("B-DQ-1"), "green", P("air-quality"), "Air quality action plan", "",
            members_.at("labour")[7]);
    Decline(At(AddWeekdays(day(300), 1), 10), P("B-DQ-1"), C("o-ceo"), v1::OTHER);
  }

  void OfferAll(absl::CivilDay given, const char* briefed, const std::string& matter,
                const char* topic, const std::string& prompted_by) {
    for (const GroupSpec& g : kGroups) {
      if (std::string(g.id) == briefed) continue;
      Offer(At(AddWeekdays(given, 1), 9), absl::StrCat(prompted_by, "-offer-", g.id), g.id, matter,
            topic, prompted_by);
    }
  }

  const GeneratorOptions o_;
  std::mt19937_64 rng_;
  Timeline t_;
  const absl::CivilDay start_day_;
  const absl::Time end_;
  const absl::Time cutoff_;
  std::vector<std::pair<absl::CivilDay, absl::CivilDay>> elections_;
  std::map<std::string, std::vector<std::string>> members_;
  uint64_t next_id_ = 0;
};

}  // namespace

std::vector<StreamAppend> GenerateCouncil(const GeneratorOptions& options) {
  return Generator(options).Run();
}

}  // namespace evenhand::demo
