#include "plugins/broker_port.h"

#include <string.h>

const struct chatd_broker_ops *broker_ops(const struct broker_port *b, void **state)
{
    *state = b->state;
    return b->ops;
}

int broker_port_on_channel(struct broker_port *b, const char *channel, broker_deliver_fn fn, void *arg)
{
    if (b->ndeliver == BROKER_PORT_HANDLERS)
        return -1;
    b->deliver[b->ndeliver].channel = channel;
    b->deliver[b->ndeliver].fn = fn;
    b->deliver[b->ndeliver].arg = arg;
    b->ndeliver++;
    return 0;
}

int broker_port_on_ready(struct broker_port *b, broker_ready_fn fn, void *arg)
{
    if (b->nready == BROKER_PORT_HANDLERS)
        return -1;
    b->ready[b->nready].fn = fn;
    b->ready[b->nready].arg = arg;
    b->nready++;
    return 0;
}

void broker_port_on_live(struct broker_port *b, broker_live_fn fn, void *arg)
{
    b->live = fn;
    b->live_arg = arg;
}

void broker_port_deliver(struct broker_port *b, const char *channel, const void *data, size_t len)
{
    size_t other = b->ndeliver;
    for (size_t i = 0; i < b->ndeliver; i++) {
        if (!b->deliver[i].channel) {
            other = i;
        } else if (strcmp(b->deliver[i].channel, channel) == 0) {
            b->deliver[i].fn(b->deliver[i].arg, channel, data, len);
            return;
        }
    }
    if (other < b->ndeliver)
        b->deliver[other].fn(b->deliver[other].arg, channel, data, len);
}

void broker_port_ready(struct broker_port *b)
{
    for (size_t i = 0; i < b->nready; i++)
        b->ready[i].fn(b->ready[i].arg);
}

void broker_port_live(struct broker_port *b, const char *channel, chatd_status st)
{
    if (b->live)
        b->live(b->live_arg, channel, st);
}

void broker_port_forget(struct broker_port *b)
{
    b->ndeliver = b->nready = 0;
    b->live = NULL;
}
