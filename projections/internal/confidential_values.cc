#include "projections/internal/confidential_values.h"

#include <vector>

#include "absl/container/flat_hash_map.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/descriptor.pb.h"

namespace evenhand::projections::internal {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::Reflection;

// For each message type that holds a confidential value at some depth:
// its own confidential fields, and the message fields to look inside.
struct Plan {
  std::vector<const FieldDescriptor*> clear;
  std::vector<const FieldDescriptor*> descend;
};

class Plans {
 public:
  explicit Plans(const Descriptor* root) : root_(root) { Build(root); }

  const Plan* Find(const Descriptor* d) const {
    auto it = plans_.find(d);
    return it == plans_.end() || (it->second.clear.empty() && it->second.descend.empty())
               ? nullptr
               : &it->second;
  }

 private:
  // True if `d` holds a confidential value at some depth. The root (a
  // Payload) does: a correction's replacement is one, inside a Payload.
  bool Build(const Descriptor* d) {
    if (auto it = plans_.find(d); it != plans_.end()) {
      return d == root_ || !it->second.clear.empty() || !it->second.descend.empty();
    }
    plans_[d];  // met again inside itself: answered above, not built twice
    Plan plan;
    for (int i = 0; i < d->field_count(); ++i) {
      const FieldDescriptor* f = d->field(i);
      if (f->options().GetExtension(v1::confidential)) {
        plan.clear.push_back(f);
      } else if (f->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE && Build(f->message_type())) {
        plan.descend.push_back(f);
      }
    }
    const bool any = !plan.clear.empty() || !plan.descend.empty();
    plans_[d] = std::move(plan);
    return any;
  }

  const Descriptor* root_;
  absl::flat_hash_map<const Descriptor*, Plan> plans_;
};

void Drop(const Plans& plans, const Plan& plan, Message* m) {
  const Reflection* r = m->GetReflection();
  for (const FieldDescriptor* f : plan.clear) r->ClearField(m, f);
  for (const FieldDescriptor* f : plan.descend) {
    const Plan& inner = *plans.Find(f->message_type());
    if (f->is_repeated()) {
      for (int i = 0, n = r->FieldSize(*m, f); i < n; ++i) {
        Drop(plans, inner, r->MutableRepeatedMessage(m, f, i));
      }
    } else if (r->HasField(*m, f)) {
      Drop(plans, inner, r->MutableMessage(m, f));
    }
  }
}

}  // namespace

void DropConfidential(v1::Payload* payload) {
  static const Plans& plans = *new Plans(v1::Payload::descriptor());
  // (A payload sets one of its events: the others' HasField is a compare.)
  Drop(plans, *plans.Find(v1::Payload::descriptor()), payload);
}

}  // namespace evenhand::projections::internal
