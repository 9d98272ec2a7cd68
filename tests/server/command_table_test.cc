// server/command_table.h against the wire contract's own descriptors: every listed command is an
// RPC, a Command oneof field and a CommandResult field with the listed message types, and every
// Command field is listed (a command added to the proto but not to the table fails here).
#include "server/command_table.h"

#include <gtest/gtest.h>

#include <set>
#include <string>
#include <vector>

#include "tensord/v1/tensord.grpc.pb.h"
#include "tensord/v1/tensord.pb.h"

namespace tensord {
namespace {

namespace pb = ::tensord::v1;
using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;

struct Entry {
  std::string name, field, request, response, result;
};

const std::vector<Entry>& Table() {
  static const auto* const table = new std::vector<Entry>{
#define TENSORD_ENTRY_(Name, field, Req, Resp, result) \
  {#Name, #field, pb::Req::descriptor()->full_name(), pb::Resp::descriptor()->full_name(), #result},
      TENSORD_FORALL_SESSION_COMMANDS(TENSORD_ENTRY_)
#undef TENSORD_ENTRY_
  };
  return *table;
}

TEST(CommandTable, EveryEntry_IsAnRpcACommandFieldAndAResultFieldOfTheListedTypes) {
  const auto* service = pb::Command::descriptor()->file()->FindServiceByName("Tensord");
  ASSERT_NE(service, nullptr);
  const Descriptor* command = pb::Command::descriptor();
  const Descriptor* result = pb::CommandResult::descriptor();
  for (const Entry& e : Table()) {
    SCOPED_TRACE(e.name);
    const auto* method = service->FindMethodByName(e.name);
    ASSERT_NE(method, nullptr);
    EXPECT_EQ(method->input_type()->full_name(), e.request);
    EXPECT_EQ(method->output_type()->full_name(), e.response);
    EXPECT_FALSE(method->client_streaming() || method->server_streaming());
    const FieldDescriptor* f = command->FindFieldByName(e.field);
    ASSERT_NE(f, nullptr);
    ASSERT_NE(f->containing_oneof(), nullptr);
    EXPECT_EQ(f->message_type()->full_name(), e.request);
    const FieldDescriptor* r = result->FindFieldByName(e.result);
    ASSERT_NE(r, nullptr);
    EXPECT_EQ(r->message_type()->full_name(), e.response);
  }
}

TEST(CommandTable, EveryCommandOneofField_IsInTheTableOnce) {
  std::multiset<std::string> listed;
  for (const Entry& e : Table()) listed.insert(e.field);
  const auto* oneof = pb::Command::descriptor()->FindOneofByName("command");
  ASSERT_NE(oneof, nullptr);
  for (int i = 0; i < oneof->field_count(); ++i) {
    EXPECT_EQ(listed.count(oneof->field(i)->name()), 1u) << oneof->field(i)->name();
  }
  EXPECT_EQ(static_cast<int>(listed.size()), oneof->field_count());
}

}  // namespace
}  // namespace tensord
