// A group meeting recorded item by item (OfficerAttendedGroupMeeting.
// agenda_items): party-political-business and non-members-present judge
// each item the officer was in the room for, not the meeting as a whole.
#include "tests/projections/rules/rule_test_util.h"

namespace evenhand::projections::rule_tests {
namespace {

v1::AgendaItem Item(const std::string& id, v1::Business business, bool present,
                    v1::BriefingContent content = v1::PUBLIC_INFORMATION, int non_members = 0) {
  v1::AgendaItem item;
  item.set_item(id);
  item.set_business(business);
  item.set_officer_present(present);
  item.set_content(content);
  item.set_non_members_present(non_members);
  return item;
}

class AgendaItemsTest : public ::testing::Test {
 protected:
  // The Head of Planning at Labour's group meeting, with the Head of Paid
  // Service's agreement.
  uint64_t Meeting(const std::string& id, std::vector<v1::AgendaItem> items) {
    v1::Payload p;
    auto* a = p.mutable_officer_attended_group_meeting();
    a->set_meeting_id(id);
    a->set_group_id("labour");
    a->set_officer_id("hos");
    a->set_approved_by_officer_id("ceo");
    a->set_duration_minutes(90);
    for (auto& item : items) *a->add_agenda_items() = std::move(item);
    return s_.Add(At(2026, 2, 10, 19), p);
  }
  CouncilScenario s_;
};

TEST_F(AgendaItemsTest, AnOfficerPresentForAPartyPoliticalItemIsAFinding) {
  const uint64_t m = Meeting("M-1", {Item("1", v1::COUNCIL_BUSINESS, true),
                                     Item("2", v1::COUNCIL_BUSINESS, true),
                                     Item("3", v1::PARTY_POLITICAL_BUSINESS, true)});
  std::vector<v1::Finding> f = s_.Findings("party-political-business", At(2026, 3, 1));
  ASSERT_THAT(f, SizeIs(1));
  EXPECT_EQ(f[0].group_id(), "labour");
  EXPECT_THAT(f[0].explanation(), HasSubstr("was present for item 3, party-political business"));
  EXPECT_THAT(f[0].evidence_positions(), ::testing::ElementsAre(m));
}

TEST_F(AgendaItemsTest, AnOfficerWhoLeftBeforeThePartyPoliticalItemsIsNot) {
  Meeting("M-1", {Item("1", v1::COUNCIL_BUSINESS, true),
                  Item("2", v1::PARTY_POLITICAL_BUSINESS, false),
                  Item("3", v1::PARTY_POLITICAL_BUSINESS, false)});
  EXPECT_THAT(s_.Findings("party-political-business", At(2026, 3, 1)), IsEmpty());
}

TEST_F(AgendaItemsTest, NonMembersAreJudgedForTheItemsTheOfficerWasPresentFor) {
  // Item 1: public information with a non-member present, agreed by the
  // Head of Paid Service: allowed. Item 2: confidential information with a
  // non-member present: a finding whatever the permission. Item 3:
  // non-members present, but the officer had left: nothing.
  Meeting("M-1", {Item("1", v1::COUNCIL_BUSINESS, true, v1::PUBLIC_INFORMATION, 1),
                  Item("2", v1::COUNCIL_BUSINESS, true, v1::CONFIDENTIAL_OR_EXEMPT, 2),
                  Item("3", v1::COUNCIL_BUSINESS, false, v1::CONFIDENTIAL_OR_EXEMPT, 4)});
  std::vector<v1::Finding> f = s_.Findings("non-members-present", At(2026, 3, 1));
  ASSERT_THAT(f, SizeIs(1));
  EXPECT_THAT(f[0].explanation(), HasSubstr("attended item 2 of a meeting of Labour Group"));
  EXPECT_THAT(f[0].explanation(), HasSubstr("2 non-members present while confidential"));
}

}  // namespace
}  // namespace evenhand::projections::rule_tests
