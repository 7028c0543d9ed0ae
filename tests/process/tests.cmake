# Scaling out on a broker cluster (issue 17): its own 3-node RabbitMQ cluster on loopback
# (scripts/broker-cluster.sh, ports 56830-56849), a node killed mid-night. SERIAL: three more
# Erlang nodes on a 2-core machine would slow every test running beside it.
tianyu_add_test(broker_cluster_test process/broker_cluster_test.cpp SERIAL
  LIBS tianyu_test_support tianyu_publisher)
add_dependencies(broker_cluster_test tianyu-manager tianyu-consumer)
