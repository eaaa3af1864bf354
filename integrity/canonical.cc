#include "integrity/canonical.h"

#include <cstdint>
#include <vector>

#include "absl/strings/str_cat.h"
#include "base/quoted.h"
#include "base/status_macros.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/reflection.h"

namespace evenhand::integrity {
namespace {

using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::Reflection;

constexpr char kRecordMagic[] = "EHR1";

enum Tag : uint8_t {
  kInt = 1,
  kUint = 2,
  kBool = 3,
  kEnum = 4,
  kString = 5,
  kBytes = 6,
  kMessage = 7,
  kRepeated = 0x80,
};

void PutU32(std::string* out, uint32_t v) {
  for (int s = 24; s >= 0; s -= 8) out->push_back(static_cast<char>(v >> s));
}
void PutU64(std::string* out, uint64_t v) {
  for (int s = 56; s >= 0; s -= 8) out->push_back(static_cast<char>(v >> s));
}

absl::StatusOr<Tag> TagOf(const FieldDescriptor* f) {
  switch (f->cpp_type()) {
    case FieldDescriptor::CPPTYPE_INT32:
    case FieldDescriptor::CPPTYPE_INT64:
      return kInt;
    case FieldDescriptor::CPPTYPE_UINT32:
    case FieldDescriptor::CPPTYPE_UINT64:
      return kUint;
    case FieldDescriptor::CPPTYPE_BOOL:
      return kBool;
    case FieldDescriptor::CPPTYPE_ENUM:
      return kEnum;
    case FieldDescriptor::CPPTYPE_STRING:
      return f->type() == FieldDescriptor::TYPE_BYTES ? kBytes : kString;
    case FieldDescriptor::CPPTYPE_MESSAGE:
      if (f->is_map()) break;
      return kMessage;
    default:
      break;
  }
  return absl::InvalidArgumentError(
      absl::StrCat("canonical encoding: field ", f->full_name(), " has a type it does not allow"));
}

absl::Status EncodeMessage(const Message& m, std::string* out);

// One value of `f` (element `index` if repeated, else -1).
absl::Status EncodeValue(const Message& m, const FieldDescriptor* f, int index, Tag tag,
                         std::string* out) {
  const Reflection* r = m.GetReflection();
  const bool rep = index >= 0;
  switch (tag) {
    case kInt: {
      int64_t v = f->cpp_type() == FieldDescriptor::CPPTYPE_INT32
                      ? (rep ? r->GetRepeatedInt32(m, f, index) : r->GetInt32(m, f))
                      : (rep ? r->GetRepeatedInt64(m, f, index) : r->GetInt64(m, f));
      PutU64(out, static_cast<uint64_t>(v));
      return absl::OkStatus();
    }
    case kUint: {
      uint64_t v = f->cpp_type() == FieldDescriptor::CPPTYPE_UINT32
                       ? (rep ? r->GetRepeatedUInt32(m, f, index) : r->GetUInt32(m, f))
                       : (rep ? r->GetRepeatedUInt64(m, f, index) : r->GetUInt64(m, f));
      PutU64(out, v);
      return absl::OkStatus();
    }
    case kBool:
      out->push_back(rep ? r->GetRepeatedBool(m, f, index) : r->GetBool(m, f) ? 1 : 0);
      return absl::OkStatus();
    case kEnum:
      PutU64(out, static_cast<uint64_t>(static_cast<int64_t>(
                      rep ? r->GetRepeatedEnumValue(m, f, index) : r->GetEnumValue(m, f))));
      return absl::OkStatus();
    case kString:
    case kBytes: {
      std::string scratch;
      const std::string& v = rep ? r->GetRepeatedStringReference(m, f, index, &scratch)
                                 : r->GetStringReference(m, f, &scratch);
      PutU32(out, static_cast<uint32_t>(v.size()));
      out->append(v);
      return absl::OkStatus();
    }
    case kMessage: {
      std::string nested;
      EH_RETURN_IF_ERROR(
          EncodeMessage(rep ? r->GetRepeatedMessage(m, f, index) : r->GetMessage(m, f), &nested));
      PutU32(out, static_cast<uint32_t>(nested.size()));
      out->append(nested);
      return absl::OkStatus();
    }
    default:
      break;
  }
  return absl::InternalError("canonical encoding: bad tag");
}

bool IsSet(const Message& m, const FieldDescriptor* f) {
  const Reflection* r = m.GetReflection();
  if (f->is_repeated()) return r->FieldSize(m, f) > 0;
  if (f->has_presence()) return r->HasField(m, f);
  // proto3 fields without presence are set when not their default.
  switch (f->cpp_type()) {
    case FieldDescriptor::CPPTYPE_INT32:
      return r->GetInt32(m, f) != 0;
    case FieldDescriptor::CPPTYPE_INT64:
      return r->GetInt64(m, f) != 0;
    case FieldDescriptor::CPPTYPE_UINT32:
      return r->GetUInt32(m, f) != 0;
    case FieldDescriptor::CPPTYPE_UINT64:
      return r->GetUInt64(m, f) != 0;
    case FieldDescriptor::CPPTYPE_BOOL:
      return r->GetBool(m, f);
    case FieldDescriptor::CPPTYPE_ENUM:
      return r->GetEnumValue(m, f) != 0;
    case FieldDescriptor::CPPTYPE_STRING: {
      std::string scratch;
      return !r->GetStringReference(m, f, &scratch).empty();
    }
    default:
      return r->HasField(m, f);
  }
}

absl::Status EncodeMessage(const Message& m, std::string* out) {
  const Reflection* r = m.GetReflection();
  if (!r->GetUnknownFields(m).empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "canonical encoding: ", m.GetDescriptor()->full_name(), " has unknown fields"));
  }
  const google::protobuf::Descriptor* d = m.GetDescriptor();
  // Fields in ascending number order, whatever order the .proto lists them.
  std::vector<const FieldDescriptor*> fields;
  for (int i = 0; i < d->field_count(); ++i) fields.push_back(d->field(i));
  std::sort(fields.begin(), fields.end(),
            [](const FieldDescriptor* a, const FieldDescriptor* b) { return a->number() < b->number(); });
  for (const FieldDescriptor* f : fields) {
    if (!IsSet(m, f)) continue;
    EH_ASSIGN_OR_RETURN(Tag tag, TagOf(f));
    PutU32(out, static_cast<uint32_t>(f->number()));
    if (f->is_repeated()) {
      out->push_back(static_cast<char>(tag | kRepeated));
      const int n = r->FieldSize(m, f);
      PutU32(out, static_cast<uint32_t>(n));
      for (int i = 0; i < n; ++i) EH_RETURN_IF_ERROR(EncodeValue(m, f, i, tag, out));
    } else {
      out->push_back(static_cast<char>(tag));
      EH_RETURN_IF_ERROR(EncodeValue(m, f, -1, tag, out));
    }
  }
  return absl::OkStatus();
}

// ---- decoding ---------------------------------------------------------------

class Reader {
 public:
  explicit Reader(absl::string_view data) : data_(data) {}
  bool done() const { return pos_ == data_.size(); }
  bool U8(uint8_t* v) {
    if (pos_ + 1 > data_.size()) return false;
    *v = static_cast<uint8_t>(data_[pos_++]);
    return true;
  }
  bool U32(uint32_t* v) {
    if (pos_ + 4 > data_.size()) return false;
    *v = 0;
    for (int i = 0; i < 4; ++i) *v = *v << 8 | static_cast<uint8_t>(data_[pos_++]);
    return true;
  }
  bool U64(uint64_t* v) {
    if (pos_ + 8 > data_.size()) return false;
    *v = 0;
    for (int i = 0; i < 8; ++i) *v = *v << 8 | static_cast<uint8_t>(data_[pos_++]);
    return true;
  }
  bool Bytes(absl::string_view* v) {
    uint32_t n;
    if (!U32(&n) || pos_ + n > data_.size()) return false;
    *v = data_.substr(pos_, n);
    pos_ += n;
    return true;
  }

 private:
  absl::string_view data_;
  size_t pos_ = 0;
};

absl::Status Corrupt(const std::string& what) {
  return absl::DataLossError(absl::StrCat("canonical record: ", what));
}

absl::Status DecodeMessage(absl::string_view data, Message* m, int depth);

absl::Status DecodeValue(Reader& in, const FieldDescriptor* f, uint8_t tag, bool rep, Message* m,
                         int depth) {
  const Reflection* r = m->GetReflection();
  switch (tag) {
    case kInt: {
      uint64_t v;
      if (!in.U64(&v)) return Corrupt("truncated integer");
      const int64_t s = static_cast<int64_t>(v);
      if (f->cpp_type() == FieldDescriptor::CPPTYPE_INT32) {
        rep ? r->AddInt32(m, f, static_cast<int32_t>(s)) : r->SetInt32(m, f, static_cast<int32_t>(s));
      } else {
        rep ? r->AddInt64(m, f, s) : r->SetInt64(m, f, s);
      }
      return absl::OkStatus();
    }
    case kUint: {
      uint64_t v;
      if (!in.U64(&v)) return Corrupt("truncated integer");
      if (f->cpp_type() == FieldDescriptor::CPPTYPE_UINT32) {
        rep ? r->AddUInt32(m, f, static_cast<uint32_t>(v)) : r->SetUInt32(m, f, static_cast<uint32_t>(v));
      } else {
        rep ? r->AddUInt64(m, f, v) : r->SetUInt64(m, f, v);
      }
      return absl::OkStatus();
    }
    case kBool: {
      uint8_t v;
      if (!in.U8(&v) || v > 1) return Corrupt("bad boolean");
      rep ? r->AddBool(m, f, v == 1) : r->SetBool(m, f, v == 1);
      return absl::OkStatus();
    }
    case kEnum: {
      uint64_t v;
      if (!in.U64(&v)) return Corrupt("truncated enum");
      const int value = static_cast<int>(static_cast<int64_t>(v));
      rep ? r->AddEnumValue(m, f, value) : r->SetEnumValue(m, f, value);
      return absl::OkStatus();
    }
    case kString:
    case kBytes: {
      absl::string_view v;
      if (!in.Bytes(&v)) return Corrupt("truncated string");
      // A string holds UTF-8 (docs/INTEGRITY.md): bytes that are not could
      // not come from an event the server accepted.
      if (tag == kString && !IsValidUtf8(v)) {
        return Corrupt(absl::StrCat("field ", f->full_name(), " is a string but not valid UTF-8"));
      }
      rep ? r->AddString(m, f, std::string(v)) : r->SetString(m, f, std::string(v));
      return absl::OkStatus();
    }
    case kMessage: {
      absl::string_view v;
      if (!in.Bytes(&v)) return Corrupt("truncated message");
      Message* sub = rep ? r->AddMessage(m, f) : r->MutableMessage(m, f);
      return DecodeMessage(v, sub, depth + 1);
    }
    default:
      return Corrupt("bad tag");
  }
}

absl::Status DecodeMessage(absl::string_view data, Message* m, int depth) {
  if (depth > 32) return Corrupt("nested too deeply");
  Reader in(data);
  const google::protobuf::Descriptor* d = m->GetDescriptor();
  while (!in.done()) {
    uint32_t number;
    uint8_t tag;
    if (!in.U32(&number) || !in.U8(&tag)) return Corrupt("truncated field");
    const FieldDescriptor* f = d->FindFieldByNumber(static_cast<int>(number));
    if (f == nullptr) return Corrupt(absl::StrCat("unknown field ", number, " in ", d->full_name()));
    absl::StatusOr<Tag> want = TagOf(f);
    if (!want.ok()) return want.status();
    const bool rep = (tag & kRepeated) != 0;
    if (rep != f->is_repeated() || (tag & ~kRepeated) != *want) {
      return Corrupt(absl::StrCat("field ", f->full_name(), " has the wrong type"));
    }
    if (rep) {
      uint32_t n;
      if (!in.U32(&n)) return Corrupt("truncated count");
      for (uint32_t i = 0; i < n; ++i) {
        EH_RETURN_IF_ERROR(DecodeValue(in, f, *want, true, m, depth));
      }
    } else {
      EH_RETURN_IF_ERROR(DecodeValue(in, f, *want, false, m, depth));
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::string> CanonicalMessage(const google::protobuf::Message& message) {
  std::string out;
  EH_RETURN_IF_ERROR(EncodeMessage(message, &out));
  return out;
}

absl::StatusOr<std::string> CanonicalRecord(const v1::RecordedEvent& record) {
  std::string out = kRecordMagic;
  EH_RETURN_IF_ERROR(EncodeMessage(record, &out));
  return out;
}

absl::StatusOr<v1::RecordedEvent> DecodeCanonicalRecord(const std::string& bytes) {
  if (bytes.compare(0, 4, kRecordMagic) != 0) return Corrupt("does not start with EHR1");
  v1::RecordedEvent record;
  EH_RETURN_IF_ERROR(DecodeMessage(absl::string_view(bytes).substr(4), &record, 0));
  // One event, one encoding: anything else (fields out of order, defaults
  // spelled out, a field twice) is not canonical.
  EH_ASSIGN_OR_RETURN(std::string again, CanonicalRecord(record));
  if (again != bytes) return Corrupt("bytes are not in canonical form");
  return record;
}

}  // namespace evenhand::integrity
