/* kafka_mock: librdkafka's built-in mock Kafka cluster as a process, for
 * tests (no Kafka server can be installed here). Listens on loopback,
 * prints its bootstrap servers on one line, then obeys stdin:
 *   down   take every broker down (connections refused/closed)
 *   up     bring them back
 * and exits when stdin closes. */
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BROKERS 3

int main(int argc, char **argv)
{
    const char *topic = argc > 1 ? argv[1] : "chatd.events";
    char err[256];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
    if (!rk) {
        fprintf(stderr, "kafka_mock: %s\n", err);
        return 1;
    }
    rd_kafka_mock_cluster_t *mc = rd_kafka_mock_cluster_new(rk, BROKERS);
    if (!mc || rd_kafka_mock_topic_create(mc, topic, 4, BROKERS) != RD_KAFKA_RESP_ERR_NO_ERROR) {
        fprintf(stderr, "kafka_mock: cannot create the mock cluster\n");
        return 1;
    }
    printf("%s\n", rd_kafka_mock_cluster_bootstraps(mc));
    fflush(stdout);
    char line[64];
    while (fgets(line, sizeof line, stdin)) {
        bool down = strncmp(line, "down", 4) == 0;
        if (!down && strncmp(line, "up", 2) != 0)
            continue;
        for (int id = 1; id <= BROKERS; id++) {
            if (down)
                rd_kafka_mock_broker_set_down(mc, id);
            else
                rd_kafka_mock_broker_set_up(mc, id);
        }
        printf("%s\n", down ? "down" : "up");
        fflush(stdout);
    }
    rd_kafka_mock_cluster_destroy(mc);
    rd_kafka_destroy(rk);
    return 0;
}
