# bench/soak.gp: plots bench/soak's samples.  gnuplot -e "dat='...';
# png='...'; title='...'" bench/soak.gp
set terminal pngcairo size 1200,900 font ",10"
set output png
set multiplot layout 3,1 title title
set grid
set key top left
set xlabel "time (s)"
set ylabel "MB / %"
set y2label "messages"
set ytics nomirror
set y2tics
plot dat using 1:2 with linespoints title "RSS (MB)", \
     dat using 1:3 with lines title "CPU (%)", \
     dat using 1:4 axes x1y2 with lines title "queue depth (pending+inflight)"
set ylabel "ms"
unset y2label
unset y2tics
plot dat using 1:5 with linespoints title "delivery latency p50 (202 to sink)", \
     dat using 1:6 with linespoints title "latency p99", \
     dat using 1:7 with linespoints title "latency p99 (healthy sinks)", \
     dat using 1:8 with lines title "ingest p99 (POST to 202)"
set ylabel "per 10 s"
plot dat using 1:9 with lines title "events accepted", \
     dat using 1:10 with lines title "deliveries answered 2xx"
unset multiplot
