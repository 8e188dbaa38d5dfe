#include "jobgraph/time.hpp"

#include <fmt/format.h>

#include <charconv>

namespace jobgraph {

std::string format_timestamp(Timestamp at) {
    using namespace std::chrono;
    const auto day = floor<days>(at);
    const year_month_day date{day};
    const hh_mm_ss<microseconds> clock{at - day};
    return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}Z", static_cast<int>(date.year()),
                       static_cast<unsigned>(date.month()), static_cast<unsigned>(date.day()), clock.hours().count(),
                       clock.minutes().count(), clock.seconds().count(), clock.subseconds().count());
}

std::optional<Timestamp> parse_timestamp(std::string_view text) {
    // Exactly "YYYY-MM-DDTHH:MM:SS.ffffffZ", the form format_timestamp writes.
    if (text.size() != 27 || text[4] != '-' || text[7] != '-' || text[10] != 'T' || text[13] != ':' ||
        text[16] != ':' || text[19] != '.' || text[26] != 'Z') {
        return std::nullopt;
    }
    auto number = [&](std::size_t pos, std::size_t len, long long& out) {
        const char* first = text.data() + pos;
        const auto [end, error] = std::from_chars(first, first + len, out);
        return error == std::errc{} && end == first + len;
    };
    long long y = 0, mo = 0, d = 0, h = 0, mi = 0, s = 0, us = 0;
    if (!number(0, 4, y) || !number(5, 2, mo) || !number(8, 2, d) || !number(11, 2, h) || !number(14, 2, mi) ||
        !number(17, 2, s) || !number(20, 6, us)) {
        return std::nullopt;
    }
    using namespace std::chrono;
    const year_month_day date{year{static_cast<int>(y)}, month{static_cast<unsigned>(mo)},
                              day{static_cast<unsigned>(d)}};
    if (!date.ok() || h > 23 || mi > 59 || s > 59) return std::nullopt;
    return sys_days{date} + hours{h} + minutes{mi} + seconds{s} + microseconds{us};
}

}  // namespace jobgraph
