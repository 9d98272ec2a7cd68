// tensorctl: the operator's command line for tensord. Flags live here and only here.
//
// The flags are absl flags, but the command line is scanned here rather than by
// absl::ParseCommandLine, so that flags may follow the subcommand (`tensorctl graph ID 7 -o
// g.png`), every usage error exits 2 (absl exits 1), and --help prints the help of one subcommand.
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <iostream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/reflection.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"
#include "tools/tensorctl/commands.h"

ABSL_FLAG(std::string, address, "127.0.0.1:50051", "tensord's address, host:port.");
ABSL_FLAG(std::string, token, "",
          "Bearer token, sent as 'authorization: Bearer <token>' (default: $TENSORD_TOKEN, which "
          "keeps it out of "
          "the process list).");
ABSL_FLAG(bool, tls, false, "Connect with TLS.");
ABSL_FLAG(std::string, ca_cert, "",
          "PEM file of the CA (or self-signed certificate) to trust; implies --tls.");
ABSL_FLAG(absl::Duration, timeout, absl::Seconds(10), "Deadline of each call, e.g. 2s or 500ms.");
ABSL_FLAG(std::string, format, "", "Output format (see the command's help).");
ABSL_FLAG(std::string, output, "", "Write the output to FILE instead of stdout (also -o FILE).");
ABSL_FLAG(bool, grad, false, "Also print the tensor's .grad.");
ABSL_FLAG(std::string, service, "", "The health service to check ('' = the server as a whole).");

namespace {

using tensorctl::ExitCode;

constexpr const char* kGlobalFlags[] = {"address", "token", "tls", "ca_cert", "timeout"};

struct FlagDoc {
  const char* name;
  const char* help;             // nullptr: the flag's own help text
  const char* value = nullptr;  // the value placeholder in the synopsis
};

struct Command {
  const char* name;
  const char* args;  // positional arguments, for the synopsis
  int num_args;
  const char* summary;
  const char* description;
  std::vector<FlagDoc> flags;
  const char* examples;
};

const std::vector<Command>& Commands() {
  static const auto* commands = new std::vector<Command>{
      {"sessions",
       "",
       0,
       "List the sessions: labels, tensors, memory, TTL, idle time, commands.",
       "Lists the server's sessions (those of your token, when the server checks tokens), oldest "
       "first.\n"
       "BYTES is what the session holds now (tensors and saved graph buffers, each storage once), "
       "human\n"
       "readable and exact; PEAK is its high-water mark; IDLE is the time since its last call (a "
       "session\n"
       "idle for longer than its TTL is reclaimed).",
       {{"format", "table (default) or json: one object per session, numbers as numbers.",
         "table|json"}},
       "  tensorctl sessions\n"
       "  tensorctl sessions --format json | jq '.[] | select(.idle_seconds > 300) | "
       ".session_id'\n"},
      {"close",
       "ID",
       1,
       "Close a session and print what it held.",
       "Closes session ID at once (its tensors and graphs are freed) and prints what it held.",
       {},
       "  tensorctl close 6f1c0e2a9b...\n"},
      {"tensors",
       "ID",
       1,
       "List a session's tensors: handle, shape, dtype, autograd state, bytes.",
       "Lists every tensor handle of session ID in handle order (ListTensors, a page of 1000 at "
       "a time):\n"
       "shape, dtype, requires_grad, is_leaf, grad_fn (None for leaves), BYTES (the tensor's own "
       "elements;\n"
       "views share their base's storage), retains_grad and whether .grad is set. Listing is a "
       "peek: it\n"
       "does not reset the session's idle time.",
       {{"format", "table (default) or json: one object per tensor, numbers as numbers.",
         "table|json"}},
       "  tensorctl tensors 6f1c0e2a9b...\n"
       "  tensorctl tensors 6f1c0e2a9b... --format json | jq '.[] | select(.requires_grad)'\n"},
      {"show",
       "ID HANDLE",
       2,
       "Print a tensor's metadata and its values as PyTorch prints them.",
       "Prints tensor HANDLE of session ID: shape, dtype, requires_grad, is_leaf, grad_fn, "
       "version,\n"
       "retains_grad, whether .grad is set, then its values exactly as PyTorch 1.13's repr (large\n"
       "tensors are summarized with '...', as PyTorch does). It is a peek (x-tensord-peek): it "
       "does\n"
       "not reset the session's idle time.",
       {{"grad", nullptr}},
       "  tensorctl show 6f1c0e2a9b... 3\n"
       "  tensorctl show 6f1c0e2a9b... 2 --grad\n"},
      {"graph",
       "ID HANDLE",
       2,
       "Draw a tensor's backward graph (Graphviz dot, svg or png).",
       "Draws the autograd graph reachable from tensor HANDLE's grad_fn, as torchviz does: the "
       "tensor\n"
       "on top (a green ellipse with its handle and shape); each backward node a box with "
       "PyTorch's name\n"
       "(MulBackward0, ...) and its saved tensors, marked 'freed' once a backward without "
       "retain_graph\n"
       "released them; AccumulateGrad a node of its own, leading to the leaf tensor it fills (a "
       "light\n"
       "blue ellipse with its handle and shape). Edges follow the gradient from the tensor to the\n"
       "leaves; None edges are left out; an edge into a node's input other than 0 carries its "
       "number.\n"
       "svg and png are rendered by graphviz's `dot`, which must be on PATH (exit code 3 if not).",
       {{"format", "dot (default; written by tensorctl), svg or png (rendered by graphviz's dot).",
         "dot|svg|png"},
        {"output", "Write to FILE instead of stdout (png needs it when stdout is a terminal).",
         "FILE"}},
       "  tensorctl graph 6f1c0e2a9b... 7                       # dot on stdout\n"
       "  tensorctl graph 6f1c0e2a9b... 7 --format png -o loss.png\n"
       "  tensorctl graph 6f1c0e2a9b... 7 | dot -Tpdf > loss.pdf\n"},
      {"ops",
       "",
       0,
       "List the server's ops: inputs, outputs, kind, grad_fn, attributes.",
       "Lists every op of the server's table (ListOps): its inputs ('list' for a list of "
       "tensors),\n"
       "outputs ('var' when the inputs decide), kind (kernel, view, composite), the grad_fn its "
       "results\n"
       "get, its in-place form, and its attributes with their types and Python defaults (an "
       "attribute\n"
       "without a default is required). json adds the docs.",
       {{"format", "table (default) or json.", "table|json"}},
       "  tensorctl ops\n"
       "  tensorctl ops --format json | jq -r '.[].name'\n"},
      {"stats",
       "",
       0,
       "Print the server's counters (ServerInfo).",
       "Prints the server's version, replica name, uptime, worker threads, live and expired "
       "sessions,\n"
       "tensors and bytes held, and the ops and commands served since it started.",
       {{"format", "table (default) or json.", "table|json"}},
       "  tensorctl stats\n"
       "  tensorctl stats --format json\n"},
      {"health",
       "",
       0,
       "Check grpc.health.v1: prints SERVING or NOT_SERVING; exit 0 only when SERVING.",
       "Calls grpc.health.v1.Health/Check and prints the status. Exits 0 only when SERVING, 1 "
       "otherwise\n"
       "(NOT_SERVING while the server drains, or the server cannot be reached): fit for a "
       "container\n"
       "HEALTHCHECK.",
       {{"service", nullptr, "NAME"}},
       "  tensorctl health --timeout=2s\n"
       "  HEALTHCHECK CMD [\"tensorctl\", \"health\", \"--timeout=2s\"]\n"},
  };
  return *commands;
}

const Command* FindCommand(const std::string& name) {
  for (const Command& c : Commands())
    if (name == c.name) return &c;
  return nullptr;
}

absl::CommandLineFlag* OurFlag(absl::string_view name) {
  absl::CommandLineFlag* f = absl::FindCommandLineFlag(name);
  if (f == nullptr || !absl::EndsWith(f->Filename(), "tensorctl/main.cc")) return nullptr;
  return f;
}

std::string FlagLine(const FlagDoc& doc) {
  absl::CommandLineFlag* f = OurFlag(doc.name);
  std::string spelled = absl::StrCat("--", doc.name);
  if (std::string(doc.name) == "output") spelled = "-o, --output";
  if (!f->IsOfType<bool>()) {
    absl::StrAppend(&spelled, "=",
                    doc.value ? doc.value : absl::StrCat("'", f->DefaultValue(), "'"));
  }
  const std::string help = doc.help ? doc.help : f->Help();
  return absl::StrFormat("  %-28s %s\n", spelled, help);
}

std::string GlobalFlagsHelp() {
  std::string out = "Global flags (before or after the command):\n";
  for (const char* name : kGlobalFlags) out += FlagLine({name, nullptr});
  return out;
}

constexpr char kExitCodes[] =
    "Exit codes: 0 ok; 1 the server answered with an error or could not be reached (the gRPC code\n"
    "name and the server's message on stderr); 2 usage error; 3 local failure (graphviz missing "
    "or\n"
    "failing, output file not writable).\n";

std::string TopHelp() {
  std::string out =
      "tensorctl: the operator's command line for tensord.\n\n"
      "Usage: tensorctl [global flags] COMMAND [ARGS] [flags]\n\nCommands:\n";
  for (const Command& c : Commands()) {
    out += absl::StrFormat("  %-20s %s\n", absl::StrCat(c.name, *c.args ? " " : "", c.args),
                           c.summary);
  }
  out += absl::StrFormat("  %-20s %s\n\n", "help [COMMAND]", "This help, or a command's.");
  out += GlobalFlagsHelp();
  out += "\n";
  out += kExitCodes;
  out +=
      "\nRun 'tensorctl help COMMAND' (or 'tensorctl COMMAND --help') for a command's flags and "
      "examples.\n";
  return out;
}

std::string CommandHelp(const Command& c) {
  std::string synopsis = absl::StrCat("tensorctl ", c.name, *c.args ? " " : "", c.args);
  for (const FlagDoc& f : c.flags) {
    absl::CommandLineFlag* flag = OurFlag(f.name);
    if (std::string(f.name) == "output") {
      absl::StrAppend(&synopsis, " [-o FILE]");
    } else if (flag->IsOfType<bool>()) {
      absl::StrAppend(&synopsis, " [--", f.name, "]");
    } else {
      absl::StrAppend(&synopsis, " [--", f.name, "=", f.value ? f.value : "VALUE", "]");
    }
  }
  std::string out = absl::StrCat(c.summary, "\n\nUsage: ", synopsis, "\n\n", c.description, "\n");
  if (!c.flags.empty()) {
    out += "\nFlags:\n";
    for (const FlagDoc& f : c.flags) out += FlagLine(f);
  }
  out += "\n" + GlobalFlagsHelp();
  out += absl::StrCat("\nExamples:\n", c.examples, "\n", kExitCodes);
  return out;
}

// A usage error: the message, then the help of the command (or the tool), on stderr.
int Usage(const std::string& message, const Command* command) {
  std::cerr << "tensorctl: " << message << "\n\n" << (command ? CommandHelp(*command) : TopHelp());
  return ExitCode::kUsageError;
}

std::string ReadFile(const std::string& path, bool* ok) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  *ok = static_cast<bool>(in);
  return ss.str();
}

int Main(int argc, char** argv) {
  std::vector<std::string> positional;
  std::set<std::string> set_flags;
  bool help = false;
  std::string flag_error;

  // Scan the command line: flags (--name=value, --name value, --bool, --nobool, -o FILE) anywhere,
  // everything else positional; "--" ends the flags.
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--") {
      for (++i; i < argc; ++i) positional.push_back(argv[i]);
      break;
    }
    if (arg.size() < 2 || arg[0] != '-') {
      positional.push_back(arg);
      continue;
    }
    std::string body = arg.substr(arg[1] == '-' ? 2 : 1);
    std::string name = body, value;
    bool has_value = false;
    if (const size_t eq = body.find('='); eq != std::string::npos) {
      name = body.substr(0, eq);
      value = body.substr(eq + 1);
      has_value = true;
    }
    if (name == "h" || name == "help" || name == "helpfull" || name == "helpshort") {
      help = true;
      continue;
    }
    if (name == "o") name = "output";
    absl::CommandLineFlag* flag = OurFlag(name);
    bool negated = false;
    if (flag == nullptr && absl::StartsWith(name, "no")) {
      flag = OurFlag(name.substr(2));
      negated = flag != nullptr;
      if (flag != nullptr) name = name.substr(2);
      if (flag != nullptr && !flag->IsOfType<bool>()) flag = nullptr;
    }
    if (flag == nullptr) {
      if (flag_error.empty()) flag_error = absl::StrCat("unknown flag ", arg);
      continue;
    }
    if (flag->IsOfType<bool>()) {
      if (negated && has_value) {
        if (flag_error.empty()) flag_error = absl::StrCat("--no", name, " takes no value");
        continue;
      }
      if (!has_value) value = negated ? "false" : "true";
    } else if (!has_value) {
      if (i + 1 >= argc || absl::StartsWith(argv[i + 1], "--")) {
        if (flag_error.empty()) flag_error = absl::StrCat("flag ", arg, " needs a value");
        continue;
      }
      value = argv[++i];
    }
    std::string error;
    if (!flag->ParseFrom(value, &error)) {
      if (flag_error.empty()) flag_error = absl::StrCat("bad value for --", name, ": ", error);
      continue;
    }
    set_flags.insert(name);
  }

  // help, help COMMAND, COMMAND --help, --help.
  const Command* command = nullptr;
  if (!positional.empty()) command = FindCommand(positional[0]);
  if (!positional.empty() && positional[0] == "help") {
    if (positional.size() == 1) {
      std::cout << TopHelp();
      return ExitCode::kOk;
    }
    const Command* about = FindCommand(positional[1]);
    if (about == nullptr || positional.size() > 2) {
      return Usage(absl::StrCat("no help for '",
                                absl::StrJoin(positional.begin() + 1, positional.end(), " "), "'"),
                   nullptr);
    }
    std::cout << CommandHelp(*about);
    return ExitCode::kOk;
  }
  if (help) {
    if (!positional.empty() && command == nullptr)
      return Usage(absl::StrCat("unknown command '", positional[0], "'"), nullptr);
    std::cout << (command ? CommandHelp(*command) : TopHelp());
    return ExitCode::kOk;
  }
  if (positional.empty()) return Usage("no command given", nullptr);
  if (command == nullptr)
    return Usage(absl::StrCat("unknown command '", positional[0], "'"), nullptr);
  if (!flag_error.empty()) return Usage(flag_error, command);

  // The flags this command takes.
  std::set<std::string> allowed(std::begin(kGlobalFlags), std::end(kGlobalFlags));
  for (const FlagDoc& f : command->flags) allowed.insert(f.name);
  for (const std::string& f : set_flags) {
    if (!allowed.count(f))
      return Usage(absl::StrCat("--", f, " does not apply to '", command->name, "'"), command);
  }
  const std::vector<std::string> args(positional.begin() + 1, positional.end());
  if (static_cast<int>(args.size()) != command->num_args) {
    return Usage(
        absl::StrCat("'", command->name, "' takes ", command->num_args == 0 ? "no" : command->args,
                     command->num_args == 0 ? " arguments" : "", ", got ",
                     args.empty() ? "none" : absl::StrCat("'", absl::StrJoin(args, " "), "'")),
        command);
  }
  const std::string name = command->name;
  std::string format = absl::GetFlag(FLAGS_format);
  if (name == "graph") {
    if (format.empty()) format = "dot";
    if (format != "dot" && format != "svg" && format != "png") {
      return Usage(absl::StrCat("--format must be dot, svg or png, not '", format, "'"), command);
    }
    if (format == "png" && absl::GetFlag(FLAGS_output).empty() && isatty(STDOUT_FILENO)) {
      return Usage("refusing to write a PNG to a terminal: add -o FILE (or redirect stdout)",
                   command);
    }
  } else if (set_flags.count("format")) {
    if (format.empty()) format = "table";
    if (format != "table" && format != "json") {
      return Usage(absl::StrCat("--format must be table or json, not '", format, "'"), command);
    }
  }
  const bool json = format == "json";
  uint64_t handle = 0;
  if (command->num_args >= 1 && args[0].empty()) return Usage("the session ID is empty", command);
  if (command->num_args == 2 && (!absl::SimpleAtoi(args[1], &handle) || handle == 0)) {
    return Usage(
        absl::StrCat("HANDLE must be a tensor handle (an integer >= 1), not '", args[1], "'"),
        command);
  }

  tensorctl::ConnectionOptions o;
  o.address = absl::GetFlag(FLAGS_address);
  o.token = absl::GetFlag(FLAGS_token);
  if (o.token.empty() && std::getenv("TENSORD_TOKEN") != nullptr)
    o.token = std::getenv("TENSORD_TOKEN");
  o.tls = absl::GetFlag(FLAGS_tls) || !absl::GetFlag(FLAGS_ca_cert).empty();
  if (!absl::GetFlag(FLAGS_ca_cert).empty()) {
    bool ok = false;
    o.root_certificates = ReadFile(absl::GetFlag(FLAGS_ca_cert), &ok);
    if (!ok || o.root_certificates.empty()) {
      return Usage(absl::StrCat("cannot read --ca_cert ", absl::GetFlag(FLAGS_ca_cert)), command);
    }
  }
  o.timeout = absl::GetFlag(FLAGS_timeout);
  if (o.timeout <= absl::ZeroDuration()) return Usage("--timeout must be positive", command);

  tensorctl::Connection c(o);
  tensorctl::Io io{std::cout, std::cerr};
  int rc = ExitCode::kOk;
  if (name == "sessions") {
    rc = tensorctl::Sessions(c, json, io);
  } else if (name == "close") {
    rc = tensorctl::Close(c, args[0], io);
  } else if (name == "tensors") {
    rc = tensorctl::Tensors(c, args[0], json, io);
  } else if (name == "show") {
    rc = tensorctl::Show(c, args[0], handle, absl::GetFlag(FLAGS_grad), io);
  } else if (name == "graph") {
    rc = tensorctl::Graph(c, args[0], handle, format, absl::GetFlag(FLAGS_output), io);
  } else if (name == "ops") {
    rc = tensorctl::Ops(c, json, io);
  } else if (name == "stats") {
    rc = tensorctl::Stats(c, json, io);
  } else if (name == "health") {
    rc = tensorctl::Health(c, absl::GetFlag(FLAGS_service), io);
  }
  std::cout.flush();
  if (!std::cout) {
    std::cerr << "tensorctl: cannot write the output\n";
    return rc == ExitCode::kOk ? ExitCode::kLocalError : rc;
  }
  return rc;
}

}  // namespace

int main(int argc, char** argv) { return Main(argc, argv); }
