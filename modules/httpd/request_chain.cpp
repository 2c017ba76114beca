#include "httpd/request_chain.hpp"

namespace cmi::httpd {

request_rec* first_request(request_rec* r) {
    for (;;) {
        if (r->main) r = r->main;
        else if (r->prev) r = r->prev;
        else return r;
    }
}

const request_rec* earlier_request(const request_rec* r) { return r->prev ? r->prev : r->main; }

const char* chain_note(const request_rec* r, const char* key) {
    for (const request_rec* q = r; q; q = earlier_request(q))
        if (const char* v = apr_table_get(q->notes, key)) return v;
    return nullptr;
}

void keep_input_filter(request_rec* r, ap_filter_rec_t* frec, void* ctx) {
    for (ap_filter_t* f = r->input_filters; f; f = f->next)
        if (f->frec == frec && f->ctx == ctx) return;
    ap_add_input_filter_handle(frec, ctx, r, r->connection);
}

}  // namespace cmi::httpd
