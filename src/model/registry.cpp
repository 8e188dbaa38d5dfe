#include "jobgraph/registry.hpp"

#include <fmt/format.h>

#include <stdexcept>

namespace jobgraph {

HandlerRegistry& HandlerRegistry::add(std::string service, std::string command, Handler handler,
                                      HandlerOptions options) {
    if (!handler) throw std::invalid_argument(fmt::format("Empty handler for {}/{}", service, command));
    return insert(HandlerEntry{std::move(service), std::move(command), std::move(options), std::move(handler), {}});
}

HandlerRegistry& HandlerRegistry::add_async(std::string service, std::string command, AsyncHandler handler,
                                            HandlerOptions options) {
    if (!handler) throw std::invalid_argument(fmt::format("Empty handler for {}/{}", service, command));
    return insert(HandlerEntry{std::move(service), std::move(command), std::move(options), {}, std::move(handler)});
}

HandlerRegistry& HandlerRegistry::insert(HandlerEntry entry) {
    if (entry.service.empty() || entry.command.empty()) {
        throw std::invalid_argument(
            fmt::format("Service and command must be non-empty, got \"{}\"/\"{}\"", entry.service, entry.command));
    }
    auto& commands = services_[entry.service];
    if (commands.contains(entry.command)) {
        throw std::invalid_argument(
            fmt::format("A handler is already registered for {}/{}", entry.service, entry.command));
    }
    std::string command = entry.command;
    commands.emplace(std::move(command), std::move(entry));
    return *this;
}

const HandlerEntry* HandlerRegistry::find(std::string_view service, std::string_view command) const {
    const auto commands = services_.find(service);
    if (commands == services_.end()) return nullptr;
    const auto entry = commands->second.find(command);
    return entry == commands->second.end() ? nullptr : &entry->second;
}

std::vector<std::string> HandlerRegistry::commands_of(std::string_view service) const {
    std::vector<std::string> names;
    if (const auto commands = services_.find(service); commands != services_.end()) {
        for (const auto& [name, entry] : commands->second) names.push_back(name);
    }
    return names;
}

std::vector<const HandlerEntry*> HandlerRegistry::entries() const {
    std::vector<const HandlerEntry*> all;
    for (const auto& [service, commands] : services_) {
        for (const auto& [command, entry] : commands) all.push_back(&entry);
    }
    return all;
}

std::string HandlerRegistry::unknown_pair_message(std::string_view service, std::string_view command) const {
    const auto commands = commands_of(service);
    if (!commands.empty()) {
        return fmt::format("Unknown service/command: {}/{} (service {} has: {})", service, command, service,
                           fmt::join(commands, ", "));
    }
    std::vector<std::string_view> known;
    for (const auto& [name, unused] : services_) known.push_back(name);
    if (known.empty())
        return fmt::format("Unknown service/command: {}/{} (no handlers are registered)", service, command);
    return fmt::format("Unknown service/command: {}/{} (no service {}; known services: {})", service, command, service,
                       fmt::join(known, ", "));
}

}  // namespace jobgraph
