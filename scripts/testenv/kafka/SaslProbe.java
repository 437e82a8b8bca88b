// Probe for the broker's SASL_PLAINTEXT/SCRAM listener, run by up.sh with the
// broker's own classpath (kafka-clients):
//   KAFKA_SASL_PASSWORD=... java -cp <classpath>:<dir> SaslProbe host:port SCRAM-SHA-512 user
// Exits 0 once a SCRAM-authenticated DescribeCluster succeeds.
// (Debian 12's kcat/librdkafka 2.0.2 cannot do SCRAM against Kafka 4.x.)
import java.util.Properties;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;

public class SaslProbe {
  public static void main(String[] args) throws Exception {
    if (args.length != 3) {
      System.err.println("usage: SaslProbe host:port mechanism user (password in $KAFKA_SASL_PASSWORD)");
      System.exit(2);
    }
    String password = System.getenv("KAFKA_SASL_PASSWORD");
    Properties p = new Properties();
    p.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, args[0]);
    p.put("security.protocol", "SASL_PLAINTEXT");
    p.put("sasl.mechanism", args[1]);
    p.put("sasl.jaas.config", "org.apache.kafka.common.security.scram.ScramLoginModule required username=\""
        + args[2] + "\" password=\"" + password + "\";");
    // Generous timeouts: on two busy cores the client side of SCRAM (PBKDF2,
    // 4096 rounds) alone can outlast the default 10 s connection setup timeout.
    p.put(AdminClientConfig.SOCKET_CONNECTION_SETUP_TIMEOUT_MS_CONFIG, "30000");
    p.put(AdminClientConfig.SOCKET_CONNECTION_SETUP_TIMEOUT_MAX_MS_CONFIG, "45000");
    p.put(AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, "30000");
    p.put(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, "60000");
    try (Admin admin = Admin.create(p)) {
      String id = admin.describeCluster().clusterId().get(60, TimeUnit.SECONDS);
      System.out.println("SASL " + args[1] + " ok as " + args[2] + ", cluster " + id);
    } catch (Exception e) {
      System.err.println("SASL probe failed: " + e);
      System.exit(1);
    }
  }
}
