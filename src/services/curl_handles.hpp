#pragma once
/// @file curl_handles.hpp
/// @brief Owners of libcurl's handles, each freed once with its own cleanup function.

#include <curl/curl.h>

#include <memory>
#include <stdexcept>
#include <string>

namespace jobgraph::services {

/// @brief Runs curl_global_init once, before the first handle is made (thread-safe).
void ensure_curl_initialised();

/// @brief One transfer's easy handle.
class CurlEasy {
public:
    CurlEasy() : handle_((ensure_curl_initialised(), curl_easy_init())) {
        if (!handle_) throw std::runtime_error("curl_easy_init failed");
    }
    CURL* get() const noexcept { return handle_.get(); }

    /// @brief curl_easy_setopt, throwing std::runtime_error naming the option when refused.
    template <typename Value>
    void set(CURLoption option, Value value, const char* name) {
        if (const CURLcode code = curl_easy_setopt(handle_.get(), option, value); code != CURLE_OK) {
            throw std::runtime_error(std::string("curl cannot set ") + name + ": " + curl_easy_strerror(code));
        }
    }

private:
    struct Cleanup {
        void operator()(CURL* handle) const noexcept { curl_easy_cleanup(handle); }
    };
    std::unique_ptr<CURL, Cleanup> handle_;
};

/// @brief A list of header lines; empty until the first append.
class CurlHeaderList {
public:
    /// @brief Adds "Name: value" (copied by libcurl).
    void append(const std::string& line) {
        curl_slist* extended = curl_slist_append(list_.get(), line.c_str());
        if (!extended) throw std::runtime_error("curl_slist_append failed");
        (void)list_.release();  // curl_slist_append returned the same list, now one longer
        list_.reset(extended);
    }
    curl_slist* get() const noexcept { return list_.get(); }

private:
    struct Cleanup {
        void operator()(curl_slist* list) const noexcept { curl_slist_free_all(list); }
    };
    std::unique_ptr<curl_slist, Cleanup> list_;
};

/// @brief A multi handle that drives one easy handle, so that a waiting transfer can be woken
/// (curl_multi_wakeup) from another thread. Removes the easy handle before it goes.
class CurlMulti {
public:
    explicit CurlMulti(CurlEasy& easy) : handle_(curl_multi_init()), easy_(easy) {
        if (!handle_) throw std::runtime_error("curl_multi_init failed");
        if (const CURLMcode code = curl_multi_add_handle(handle_.get(), easy_.get()); code != CURLM_OK) {
            throw std::runtime_error(std::string("curl_multi_add_handle: ") + curl_multi_strerror(code));
        }
    }
    CurlMulti(const CurlMulti&) = delete;
    CurlMulti& operator=(const CurlMulti&) = delete;
    ~CurlMulti() { curl_multi_remove_handle(handle_.get(), easy_.get()); }

    CURLM* get() const noexcept { return handle_.get(); }

private:
    struct Cleanup {
        void operator()(CURLM* handle) const noexcept { curl_multi_cleanup(handle); }
    };
    std::unique_ptr<CURLM, Cleanup> handle_;
    CurlEasy& easy_;
};

}  // namespace jobgraph::services
